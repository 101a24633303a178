// A room's m.room.server_acl over federation. a.test and b.test are embedded homeservers; c.test is an
// HTTP server in this test with its own signing key that serves its keys and records the transactions A
// sends it, and speaks to A through a client signed as c.test. Once the room on A denies c.test, every
// room endpoint answers c.test 403 M_FORBIDDEN, its PDUs get an error entry and its typing is dropped,
// A sends the room's events to it no more, and b.test goes on as before; allowing c.test again undoes it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalServerKeys } from '../../../homeserver/federation/keys/LocalServerKeys.js';
import { loadOrCreateSigningKeys } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import { eventIdOf } from '../../../homeserver/federation/pdu/EventHashes.js';
import { hashAndSignEvent } from '../../../homeserver/federation/pdu/EventSigning.js';
import type { Pdu } from '../../../homeserver/federation/pdu/Pdu.js';
import { type FederationClient, FederationRequestError } from '../../../homeserver/federation/transport/FederationClient.js';
import { enc, federationClientAs, loopbackFederationOptions, registerUser, startTestHomeserver, waitFor, type TestHomeserver, type TestUser } from '../../harness/index.js';

const CARL = '@carl:c.test';

let dir: string;
let a: TestHomeserver;
let b: TestHomeserver;
let alice: TestUser;
let bob: TestUser;
let roomId: string;
let c: Server;
let cKey: ReturnType<typeof loadOrCreateSigningKeys>['current'];
let asC: FederationClient;
/** The PDUs A sent to c.test, in order. */
const received: Pdu[] = [];
let txnCounter = 0;

const federation = (name: string, peers: Record<string, string>) => loopbackFederationOptions(name, peers, ['a.test', 'b.test', 'c.test']);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pb-fedacl-'));
  const cKeys = loadOrCreateSigningKeys(join(dir, 'c.key'));
  cKey = cKeys.current;
  const keys = new LocalServerKeys('c.test', cKeys, 3600_000);
  c = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = req.url ?? '';
      const reply = (status: number, body: unknown) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
      if (url === '/_matrix/key/v2/server') return reply(200, keys.serverKeys());
      if (url.startsWith('/_matrix/federation/v1/send/')) {
        const txn = JSON.parse(Buffer.concat(chunks).toString()) as { pdus: Pdu[] };
        received.push(...txn.pdus);
        return reply(200, { pdus: {} });
      }
      return reply(404, { errcode: 'M_NOT_FOUND', error: 'not here' });
    });
  });
  await new Promise<void>((resolve) => c.listen(0, '127.0.0.1', resolve));
  const cUrl = `http://127.0.0.1:${(c.address() as AddressInfo).port}`;
  const aPeers: Record<string, string> = { 'c.test': cUrl };
  a = await startTestHomeserver({ serverName: 'a.test', signingKeyFile: join(dir, 'a.key'), federation: federation('a.test', aPeers) });
  b = await startTestHomeserver({ serverName: 'b.test', signingKeyFile: join(dir, 'b.key'), federation: federation('b.test', { 'a.test': a.url, 'c.test': cUrl }) });
  aPeers['b.test'] = b.url;
  asC = federationClientAs('c.test', cKey, { 'a.test': a.url });
  alice = await registerUser(a.url, 'alice');
  bob = await registerUser(b.url, 'bob');
  roomId = (await alice.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', { body: { preset: 'public_chat' } })).room_id;
  await bob.http.ok('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { query: { server_name: 'a.test' } });
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await new Promise((resolve) => c?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

type ClientEvent = { event_id: string; type: string; content: Record<string, unknown> };
const messages = async (user: TestUser): Promise<ClientEvent[]> =>
  (await user.http.ok<{ chunk: ClientEvent[] }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 50 } })).chunk;
const hasBody = async (user: TestUser, body: string): Promise<boolean> => (await messages(user)).some((e) => e.content['body'] === body);
const latest = async (): Promise<string> => (await messages(alice))[0]!.event_id;
const setAcl = (content: Record<string, unknown>) => alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.server_acl/`, { body: content });
const sendTxn = (pdus: unknown[], edus: unknown[] = []) =>
  asC.request('a.test', 'PUT', `/_matrix/federation/v1/send/c${++txnCounter}`, { origin: 'c.test', origin_server_ts: Date.now(), pdus, edus }) as Promise<{ pdus: Record<string, { error?: string }> }>;

/** A membership of carl from A's make_join/make_leave template, signed as c.test would sign it. */
async function signedMembership(membership: 'join' | 'leave'): Promise<{ eventId: string; pdu: Pdu }> {
  const ver = membership === 'join' ? '?ver=10&ver=11' : '';
  const t = (await asC.request('a.test', 'GET', `/_matrix/federation/v1/make_${membership}/${enc(roomId)}/${enc(CARL)}${ver}`)) as { event: Record<string, unknown> };
  const pdu = hashAndSignEvent('10', { ...t.event, origin_server_ts: Date.now() }, 'c.test', cKey) as unknown as Pdu;
  return { eventId: eventIdOf('10', pdu), pdu };
}

/** A message of carl's after A's latest event, as c.test would make it. */
async function messageFromC(body: string): Promise<{ eventId: string; pdu: Pdu }> {
  const after = await latest();
  const prev = ((await asC.request('a.test', 'GET', `/_matrix/federation/v1/event/${enc(after)}`)) as { pdus: Pdu[] }).pdus[0]!;
  const state = ((await asC.request('a.test', 'GET', `/_matrix/federation/v1/state/${enc(roomId)}?event_id=${enc(after)}`)) as { pdus: Pdu[] }).pdus;
  const pick = (type: string, key = '') => eventIdOf('10', state.find((e) => e.type === type && e.state_key === key)!);
  const event = {
    room_id: roomId, sender: CARL, type: 'm.room.message', content: { msgtype: 'm.text', body }, origin_server_ts: Date.now(),
    prev_events: [after], auth_events: [pick('m.room.create'), pick('m.room.power_levels'), pick('m.room.member', CARL)], depth: prev.depth + 1,
  };
  const pdu = hashAndSignEvent('10', event, 'c.test', cKey) as unknown as Pdu;
  return { eventId: eventIdOf('10', pdu), pdu };
}

async function status(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return '200';
  } catch (err) {
    if (err instanceof FederationRequestError) return `${err.status} ${err.errcode}`;
    throw err;
  }
}

const typingOnA = async (userId: string): Promise<boolean> => {
  const sync = await alice.http.ok<{ rooms?: { join?: Record<string, { ephemeral?: { events: Array<{ type: string; content: { user_ids?: string[] } }> } }> } }>('GET', '/_matrix/client/v3/sync');
  return (sync.rooms?.join?.[roomId]?.ephemeral?.events ?? []).some((e) => e.type === 'm.typing' && (e.content.user_ids ?? []).includes(userId));
};

describe('a room’s server ACL (m.room.server_acl)', () => {
  let denied: { message: { eventId: string; pdu: Pdu }; join: { eventId: string; pdu: Pdu }; leave: { eventId: string; pdu: Pdu } };

  it('without one, c.test joins and is sent the room’s events', async () => {
    const joined = await signedMembership('join');
    await asC.request('a.test', 'PUT', `/_matrix/federation/v2/send_join/${enc(roomId)}/${enc(joined.eventId)}`, joined.pdu);
    await alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/m1`, { body: { msgtype: 'm.text', body: 'before the ACL' } });
    await waitFor(() => received.some((p) => p.content['body'] === 'before the ACL'), 20_000, 'the message at c.test');
    // Made now, sent once c.test is denied.
    denied = { message: await messageFromC('while denied'), join: await signedMembership('join'), leave: await signedMembership('leave') };
  });

  it('denying c.test: every room endpoint answers it 403 M_FORBIDDEN', async () => {
    await setAcl({ allow: ['*'], deny: ['c.test'], allow_ip_literals: false });
    const event = await latest();
    const r = enc(roomId);
    const forbidden = '403 M_FORBIDDEN';
    expect(await status(asC.request('a.test', 'GET', `/_matrix/federation/v1/make_join/${r}/${enc(CARL)}?ver=10`))).toBe(forbidden);
    expect(await status(asC.request('a.test', 'PUT', `/_matrix/federation/v2/send_join/${r}/${enc(denied.join.eventId)}`, denied.join.pdu))).toBe(forbidden);
    expect(await status(asC.request('a.test', 'GET', `/_matrix/federation/v1/make_leave/${r}/${enc(CARL)}`))).toBe(forbidden);
    expect(await status(asC.request('a.test', 'PUT', `/_matrix/federation/v2/send_leave/${r}/${enc(denied.leave.eventId)}`, denied.leave.pdu))).toBe(forbidden);
    expect(await status(asC.request('a.test', 'PUT', `/_matrix/federation/v2/invite/${r}/$x`, { room_version: '10', event: {} }))).toBe(forbidden);
    expect(await status(asC.request('a.test', 'GET', `/_matrix/federation/v1/make_knock/${r}/${enc(CARL)}?ver=10`))).toBe(forbidden);
    expect(await status(asC.request('a.test', 'PUT', `/_matrix/federation/v1/send_knock/${r}/${enc(denied.join.eventId)}`, denied.join.pdu))).toBe(forbidden);
    expect(await status(asC.request('a.test', 'GET', `/_matrix/federation/v1/state/${r}?event_id=${enc(event)}`))).toBe(forbidden);
    expect(await status(asC.request('a.test', 'GET', `/_matrix/federation/v1/state_ids/${r}?event_id=${enc(event)}`))).toBe(forbidden);
    expect(await status(asC.request('a.test', 'GET', `/_matrix/federation/v1/event/${enc(event)}`))).toBe(forbidden);
    expect(await status(asC.request('a.test', 'GET', `/_matrix/federation/v1/event_auth/${r}/${enc(event)}`))).toBe(forbidden);
    expect(await status(asC.request('a.test', 'GET', `/_matrix/federation/v1/backfill/${r}?v=${enc(event)}&limit=5`))).toBe(forbidden);
    expect(await status(asC.request('a.test', 'POST', `/_matrix/federation/v1/get_missing_events/${r}`, { earliest_events: [], latest_events: [event] }))).toBe(forbidden);
    // b.test is not denied.
    const asBReads = await bob.http.ok<{ chunk: unknown[] }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 5 } });
    expect(asBReads.chunk.length).toBeGreaterThan(0);
  });

  it('refuses c.test’s PDUs and drops its typing, while b.test’s messages still arrive', async () => {
    const answer = await sendTxn([denied.message.pdu], [{ edu_type: 'm.typing', content: { room_id: roomId, user_id: CARL, typing: true } }]);
    expect(answer.pdus[denied.message.eventId]?.error).toMatch(/server ACL/);
    expect(await hasBody(alice, 'while denied')).toBe(false);
    expect(await typingOnA(CARL)).toBe(false);
    await bob.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/b1`, { body: { msgtype: 'm.text', body: 'from B while C is denied' } });
    await waitFor(() => hasBody(alice, 'from B while C is denied'), 20_000, 'B’s message on A');
  });

  it('sends c.test nothing of the room while denied, and the room’s events again once the ACL allows it', async () => {
    await alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/m2`, { body: { msgtype: 'm.text', body: 'not for C' } });
    await waitFor(() => hasBody(bob, 'not for C'), 20_000, 'A’s message on B');
    // An allow list naming c.test lets it back in; its queue is in order, so this ACL event arriving at
    // c.test means anything queued for it before has arrived too.
    await setAcl({ allow: ['a.test', 'b.test', 'c.test'] });
    await waitFor(() => received.some((p) => p.type === 'm.room.server_acl' && (p.content['allow'] as string[]).includes('c.test')), 20_000, 'the new ACL at c.test');
    expect(received.some((p) => p.content['body'] === 'not for C' || p.content['body'] === 'from B while C is denied')).toBe(false);
    expect(received.some((p) => p.type === 'm.room.server_acl' && (p.content['deny'] as string[] | undefined)?.includes('c.test'))).toBe(false);

    const message = await messageFromC('allowed again');
    const answer = await sendTxn([message.pdu]);
    expect(answer.pdus[message.eventId]).toEqual({});
    expect(await hasBody(alice, 'allowed again')).toBe(true);
    expect(await status(asC.request('a.test', 'GET', `/_matrix/federation/v1/make_join/${enc(roomId)}/${enc('@carla:c.test')}?ver=10`))).toBe('200');
  });

  it('an allow list without c.test denies it (no match is a denial)', async () => {
    await setAcl({ allow: ['a.test', 'b.test'] });
    expect(await status(asC.request('a.test', 'GET', `/_matrix/federation/v1/make_join/${enc(roomId)}/${enc('@carla:c.test')}?ver=10`))).toBe('403 M_FORBIDDEN');
    await bob.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/b2`, { body: { msgtype: 'm.text', body: 'B still allowed' } });
    await waitFor(() => hasBody(alice, 'B still allowed'), 20_000, 'B’s message on A');
  });
});
