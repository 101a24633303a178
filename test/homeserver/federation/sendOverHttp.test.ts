// Two embedded homeservers, a.test and b.test, on loopback with federation on: once a user on B has joined
// a room made on A, messages cross both ways through PUT /send/{txnId} and show in the other side's
// /messages; typing from B shows in A's /sync. Hand-made transactions signed as b.test check the
// receiving side: a retried txn id is not processed again, a badly signed PDU gets an error entry and is
// not stored while the others are, too many PDUs and a wrong origin are refused.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { loadOrCreateSigningKeys } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import { eventIdOf } from '../../../homeserver/federation/pdu/EventHashes.js';
import { hashAndSignEvent } from '../../../homeserver/federation/pdu/EventSigning.js';
import type { Pdu } from '../../../homeserver/federation/pdu/Pdu.js';
import type { FederationClient } from '../../../homeserver/federation/transport/FederationClient.js';
import { enc, federationClientAs, federationRefusal, registerUser, SpecValidator, startServerPair, type TestHomeserver, type TestUser, waitFor } from '../../harness/index.js';

const spec = SpecValidator.load();

let dir: string;
let a: TestHomeserver;
let b: TestHomeserver;
let stopServers: (() => Promise<void>) | undefined;
let alice: TestUser;
let bob: TestUser;
let roomId: string;
let asB: FederationClient;
let bKey: ReturnType<typeof loadOrCreateSigningKeys>['current'];
let txnCounter = 0;

beforeAll(async () => {
  ({ a, b, dir, stop: stopServers } = await startServerPair({ name: 'fedsend' }));
  alice = await registerUser(a.url, 'alice');
  bob = await registerUser(b.url, 'bob');
  bKey = loadOrCreateSigningKeys(join(dir, 'b.key')).current;
  asB = federationClientAs('b.test', bKey, { 'a.test': `http://127.0.0.1:${a.port}` });
  roomId = (await alice.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', { body: { preset: 'public_chat' } })).room_id;
  await bob.http.ok('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { query: { server_name: 'a.test' } });
});

afterAll(async () => {
  await Promise.all([stopServers?.()]);
});

type ClientEvent = { event_id: string; type: string; sender: string; content: Record<string, unknown> };
const messages = async (user: TestUser): Promise<ClientEvent[]> =>
  (await user.http.ok<{ chunk: ClientEvent[] }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 50 } })).chunk;
const hasBody = async (user: TestUser, body: string): Promise<boolean> => (await messages(user)).some((e) => e.content['body'] === body);

/** A message of bob's as B would make it: after A's latest event, with the auth events A's state names. */
async function messageFromB(body: string, fields: Record<string, unknown> = {}, after?: string): Promise<{ eventId: string; pdu: Pdu }> {
  const latest = after ?? (await messages(alice))[0]!.event_id;
  const prev = ((await asB.request('a.test', 'GET', `/_matrix/federation/v1/event/${enc(latest)}`)) as { pdus: Pdu[] }).pdus[0]!;
  const state = ((await asB.request('a.test', 'GET', `/_matrix/federation/v1/state/${enc(roomId)}?event_id=${enc(latest)}`)) as { pdus: Pdu[] }).pdus;
  const pick = (type: string, key = '') => eventIdOf('10', state.find((e) => e.type === type && e.state_key === key)!);
  // The state before `latest`; a message needs create, power levels and the sender's membership.
  const event = {
    room_id: roomId,
    sender: bob.userId,
    type: 'm.room.message',
    content: { msgtype: 'm.text', body },
    origin_server_ts: Date.now(),
    prev_events: [latest],
    auth_events: [pick('m.room.create'), pick('m.room.power_levels'), pick('m.room.member', bob.userId)],
    depth: prev.depth + 1,
    ...fields,
  };
  const pdu = hashAndSignEvent('10', event, 'b.test', bKey) as unknown as Pdu;
  return { eventId: eventIdOf('10', pdu), pdu };
}

const sendTxn = (body: unknown, txnId = `t${++txnCounter}.${Date.now()}`) => asB.request('a.test', 'PUT', `/_matrix/federation/v1/send/${enc(txnId)}`, body) as Promise<{ pdus: Record<string, unknown> }>;
const txn = (pdus: unknown[], edus: unknown[] = []) => ({ origin: 'b.test', origin_server_ts: Date.now(), pdus, edus });

describe('messages across servers', () => {
  it('a message sent on A arrives on B, and one sent on B arrives on A', async () => {
    await alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/a1`, { body: { msgtype: 'm.text', body: 'hello from A' } });
    await waitFor(() => hasBody(bob, 'hello from A'), 20_000, 'A’s message on B');
    await bob.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/b1`, { body: { msgtype: 'm.text', body: 'hello from B' } });
    await waitFor(() => hasBody(alice, 'hello from B'), 20_000, 'B’s message on A');
  });

  it('typing on B shows in A’s /sync', async () => {
    await bob.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(bob.userId)}`, { body: { typing: true, timeout: 30000 } });
    await waitFor(async () => {
      const sync = await alice.http.ok<{ rooms?: { join?: Record<string, { ephemeral?: { events: Array<{ type: string; content: { user_ids?: string[] } }> } }> } }>('GET', '/_matrix/client/v3/sync');
      const eph = sync.rooms?.join?.[roomId]?.ephemeral?.events ?? [];
      return eph.some((e) => e.type === 'm.typing' && (e.content.user_ids ?? []).includes(bob.userId));
    }, 20_000, 'bob typing on A');
  });
});

describe('PUT /send/{txnId} on the receiving side', () => {
  it('stores a PDU once, answers a retried txn id the same without processing it again (as the spec says)', async () => {
    const m = await messageFromB('once');
    const body = txn([m.pdu]);
    if (spec) expect(await spec.validateRequest('server-server/transactions.yaml', '/send/{txnId}', 'put', body)).toEqual([]);
    const first = await sendTxn(body, 'retry-1');
    if (spec) expect(await spec.validateResponse('server-server/transactions.yaml', '/send/{txnId}', 'put', 200, first)).toEqual([]);
    expect(first).toEqual({ pdus: { [m.eventId]: {} } });
    // The same txn id with other content is not looked at: the first answer comes back.
    const other = await messageFromB('never');
    expect(await sendTxn(txn([other.pdu]), 'retry-1')).toEqual(first);
    const seen = await messages(alice);
    expect(seen.filter((e) => e.content['body'] === 'once').length).toBe(1);
    expect(seen.some((e) => e.content['body'] === 'never')).toBe(false);
  });

  it('gives a badly signed PDU an error entry and stores it not, while the others of the transaction are stored', async () => {
    const good = await messageFromB('good one');
    const forged = await messageFromB('forged one');
    const sig = forged.pdu.signatures['b.test']!;
    const keyId = Object.keys(sig)[0]!;
    const badSig = { ...forged.pdu, signatures: { 'b.test': { [keyId]: sig[keyId]!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) } } };
    const answer = await sendTxn(txn([badSig, good.pdu]));
    expect(answer.pdus[good.eventId]).toEqual({});
    expect(answer.pdus[forged.eventId]).toEqual({ error: expect.any(String) });
    const seen = await messages(alice);
    expect(seen.some((e) => e.content['body'] === 'good one')).toBe(true);
    expect(seen.some((e) => e.content['body'] === 'forged one')).toBe(false);
  });

  it('answers a PDU of an unknown room or with unknown prev_events with an error entry', async () => {
    const m = await messageFromB('orphan');
    const orphan = hashAndSignEvent('10', { ...m.pdu, prev_events: ['$unknownprev'], signatures: {}, hashes: {} } as unknown as Record<string, unknown>, 'b.test', bKey) as unknown as Pdu;
    const elsewhere = hashAndSignEvent('10', { ...m.pdu, room_id: '!nowhere:a.test', signatures: {}, hashes: {} } as unknown as Record<string, unknown>, 'b.test', bKey) as unknown as Pdu;
    const answer = await sendTxn(txn([orphan, elsewhere]));
    expect(answer.pdus[eventIdOf('10', orphan)]).toEqual({ error: expect.stringContaining('$unknownprev') });
    expect(answer.pdus[eventIdOf('10', elsewhere)]).toEqual({ error: expect.stringContaining('Unknown room') });
    expect((await messages(alice)).some((e) => e.content['body'] === 'orphan')).toBe(false);
  });

  it('refuses more than 50 PDUs (400 M_BAD_JSON) and a transaction whose origin is not the signing server (403)', async () => {
    const m = await messageFromB('crowd');
    expect(await federationRefusal(sendTxn(txn(Array.from({ length: 51 }, () => m.pdu))))).toEqual({ status: 400, errcode: 'M_BAD_JSON' });
    expect(await federationRefusal(sendTxn({ ...txn([m.pdu]), origin: 'c.test' }))).toEqual({ status: 403, errcode: 'M_FORBIDDEN' });
    expect(await federationRefusal(sendTxn({ origin: 'b.test', pdus: 'no' }))).toEqual({ status: 400, errcode: 'M_BAD_JSON' });
    expect((await messages(alice)).some((e) => e.content['body'] === 'crowd')).toBe(false);
  });

  it('ignores typing of another server’s user and unknown EDU types', async () => {
    const answer = await sendTxn(txn([], [
      { edu_type: 'm.typing', content: { room_id: roomId, user_id: alice.userId, typing: true } },
      { edu_type: 'org.example.unknown', content: {} },
    ]));
    expect(answer).toEqual({ pdus: {} });
    const sync = await alice.http.ok<{ rooms?: { join?: Record<string, { ephemeral?: { events: Array<{ type: string; content: { user_ids?: string[] } }> } }> } }>('GET', '/_matrix/client/v3/sync');
    const typing = (sync.rooms?.join?.[roomId]?.ephemeral?.events ?? []).find((e) => e.type === 'm.typing');
    expect(typing?.content.user_ids ?? []).not.toContain(alice.userId);
  });

  it('applies a received redaction to its target, and shows a read receipt of B’s user in A’s /sync', async () => {
    const target = await messageFromB('to be redacted');
    await sendTxn(txn([target.pdu]));
    const redaction = await messageFromB('', { type: 'm.room.redaction', content: {}, redacts: target.eventId });
    expect(await sendTxn(txn([redaction.pdu]))).toEqual({ pdus: { [redaction.eventId]: {} } });
    const redacted = (await messages(alice)).find((e) => e.event_id === target.eventId)!;
    expect(redacted.content).toEqual({});

    const receipt = { [roomId]: { 'm.read': { [bob.userId]: { event_ids: [redaction.eventId], data: { ts: Date.now() } } } } };
    await sendTxn(txn([], [{ edu_type: 'm.receipt', content: receipt }]));
    const sync = await alice.http.ok<{ rooms?: { join?: Record<string, { ephemeral?: { events: Array<{ type: string; content: Record<string, Record<string, Record<string, unknown>>> }> } }> } }>('GET', '/_matrix/client/v3/sync');
    const receipts = (sync.rooms?.join?.[roomId]?.ephemeral?.events ?? []).filter((e) => e.type === 'm.receipt');
    expect(receipts.some((e) => e.content[redaction.eventId]?.['m.read']?.[bob.userId] !== undefined)).toBe(true);
  });

  it('stores an event the current state no longer allows as soft-failed: answered {} but not shown', async () => {
    const before = (await messages(alice))[0]!.event_id;
    const pl = await alice.http.ok<Record<string, unknown>>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.power_levels`);
    await alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.power_levels`, { body: { ...pl, events_default: 100 } });
    const late = await messageFromB('too late', {}, before);
    expect(await sendTxn(txn([late.pdu]))).toEqual({ pdus: { [late.eventId]: {} } });
    expect((await messages(alice)).some((e) => e.content['body'] === 'too late')).toBe(false);
  });
});
