// Gaps in received history, between two real homeservers on loopback. B keeps at most one PDU queued for A
// (sending.maxQueuedPdus: 1), so while A is out of B's reach only B's newest event is left to send: A
// then receives an event whose prev_events it lacks, and fills the gap from B with get_missing_events
// (a short gap: every event arrives), or, past get_missing_events' limit of 10, with the state before the
// first event it could fetch (a long gap: a hole in A's timeline, but B's topic from inside the hole is
// A's current state all the same). A reaches B through a proxy that records A's requests and can replace
// B's answers, for the hostile cases: a forged PDU makes A send nothing, a flood of garbage instead of the
// missing events stores nothing, and a transaction full of gaps gets at most 3 filled.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateSigningKeys } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import { eventIdOf } from '../../../homeserver/federation/pdu/EventHashes.js';
import { hashAndSignEvent } from '../../../homeserver/federation/pdu/EventSigning.js';
import type { Pdu } from '../../../homeserver/federation/pdu/Pdu.js';
import { DEFAULT_SEND_OPTIONS } from '../../../homeserver/federation/send/FederationSender.js';
import type { FederationClient } from '../../../homeserver/federation/transport/FederationClient.js';
import { enc, federationClientAs, loopbackFederationOptions, registerUser, startTestHomeserver, waitFor, type TestHomeserver, type TestUser } from '../../harness/index.js';

let dir: string;
let a: TestHomeserver;
let b: TestHomeserver;
let alice: TestUser;
let bob: TestUser;
let roomId: string;
const bPeers: Record<string, string> = {};
const UNREACHABLE = 'http://127.0.0.1:9';
let proxy: Server;
/** Paths of A's requests to B, as the proxy saw them. */
const seenByB: string[] = [];
/** Replaces B's answer to a path (null: B answers). */
let tamper: (path: string) => unknown = () => null;

/** Stands in for B towards A: forwards every request unchanged, records its path, may answer instead. */
function startProxy(target: () => number): Promise<number> {
  proxy = createServer((req, res) => {
    seenByB.push(req.url ?? '');
    const replaced = tamper(req.url ?? '');
    if (replaced !== null) {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(replaced));
      return;
    }
    const out = request({ host: '127.0.0.1', port: target(), path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(out);
  });
  return new Promise((resolve) => proxy.listen(0, '127.0.0.1', () => resolve((proxy.address() as AddressInfo).port)));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pb-fedgap-'));
  const aPeers: Record<string, string> = {};
  a = await startTestHomeserver({ serverName: 'a.test', signingKeyFile: join(dir, 'a.key'), federation: loopbackFederationOptions('a.test', aPeers, ['a.test', 'b.test']) });
  bPeers['a.test'] = `http://127.0.0.1:${a.port}`;
  b = await startTestHomeserver({
    serverName: 'b.test',
    signingKeyFile: join(dir, 'b.key'),
    federation: { ...loopbackFederationOptions('b.test', bPeers, ['a.test', 'b.test']), sending: { ...DEFAULT_SEND_OPTIONS, maxQueuedPdus: 1, retry: { initialMs: 100, maxMs: 300 } } },
  });
  aPeers['b.test'] = `http://127.0.0.1:${await startProxy(() => b.port)}`;
  alice = await registerUser(a.url, 'alice');
  bob = await registerUser(b.url, 'bob');
  roomId = (await alice.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', { body: { preset: 'public_chat', power_level_content_override: { users: { [alice.userId]: 100, '@bob:b.test': 100 } } } })).room_id;
  await bob.http.ok('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { query: { server_name: 'a.test' } });
  await waitFor(async () => (await alice.http.ok<{ joined: Record<string, unknown> }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/joined_members`)).joined[bob.userId] !== undefined, 20_000, 'bob joined on A');
});

afterAll(async () => {
  proxy?.close();
  await Promise.all([a?.stop(), b?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

type ClientEvent = { event_id: string; type: string; content: Record<string, unknown> };
const bodies = async (user: TestUser): Promise<string[]> =>
  (await user.http.ok<{ chunk: ClientEvent[] }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 100 } })).chunk
    .map((e) => e.content['body'])
    .filter((x): x is string => typeof x === 'string');

/** Bob sends while A is out of B's reach; only the newest stays queued, and goes once A is back. */
async function sendWhileCutOff(send: () => Promise<void>): Promise<void> {
  const address = bPeers['a.test']!;
  bPeers['a.test'] = UNREACHABLE;
  await send();
  bPeers['a.test'] = address;
}

const say = (user: TestUser, body: string) => user.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/${enc(body)}`, { body: { msgtype: 'm.text', body } });

describe('a gap in what A received from B', () => {
  it('is filled with get_missing_events: A shows all three messages of which B sent only the newest', async () => {
    await sendWhileCutOff(async () => {
      for (const n of [1, 2, 3]) await say(bob, `short gap ${n}`);
    });
    await waitFor(async () => (await bodies(alice)).includes('short gap 3'), 20_000, 'the newest message on A');
    const seen = await bodies(alice);
    expect(seen.filter((x) => x.startsWith('short gap'))).toEqual(['short gap 3', 'short gap 2', 'short gap 1']);
    // A's own next message builds on the filled graph, and reaches B.
    await say(alice, 'after the short gap');
    await waitFor(async () => (await bodies(bob)).includes('after the short gap'), 20_000, 'A’s message on B');
  });

  it('past get_missing_events’ limit, is crossed with the state before it: a hole in the timeline, not in the state', async () => {
    await sendWhileCutOff(async () => {
      // The first event B cannot deliver stays its transaction in flight, sent as it was once A is back.
      await say(bob, 'long gap 0');
      await bob.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.topic`, { body: { topic: 'set inside the hole' } });
      for (let n = 1; n <= 11; n++) await say(bob, `long gap ${n}`);
    });
    await waitFor(async () => (await bodies(alice)).includes('long gap 11'), 30_000, 'the newest message on A');
    const seen = (await bodies(alice)).filter((x) => x.startsWith('long gap') && x !== 'long gap 0');
    // get_missing_events gave the 10 before the newest; the topic before them is state only.
    expect(seen).toEqual(Array.from({ length: 11 }, (_, i) => `long gap ${11 - i}`));
    const topic = await alice.http.ok<{ topic: string }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.topic`);
    expect(topic.topic).toBe('set inside the hole');
    // ...and not a timeline event: it happened inside the hole, so /messages has no place for it.
    const page = await alice.http.ok<{ chunk: Array<{ type: string; content: Record<string, unknown> }> }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 100 } });
    expect(page.chunk.filter((e) => e.type === 'm.room.topic' && e.content['topic'] === 'set inside the hole')).toEqual([]);
    await say(alice, 'after the long gap');
    await waitFor(async () => (await bodies(bob)).includes('after the long gap'), 20_000, 'A’s message on B');
  });
});

describe('a gap announced by a hostile peer', () => {
  let asB: FederationClient;
  let bKey: ReturnType<typeof loadOrCreateSigningKeys>['current'];
  let txn = 0;
  const gapRequests = () => seenByB.filter((p) => /\/(get_missing_events|state_ids|state|event|event_auth)\//.test(p));

  beforeAll(() => {
    bKey = loadOrCreateSigningKeys(join(dir, 'b.key')).current;
    asB = federationClientAs('b.test', bKey, { 'a.test': `http://127.0.0.1:${a.port}` });
  });

  /** A message of bob's after an event neither server has, signed with B's key. */
  async function orphan(body: string): Promise<{ eventId: string; pdu: Pdu }> {
    const state = await alice.http.ok<Array<{ event_id: string; type: string; state_key: string }>>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/state`);
    const id = (type: string, key = '') => state.find((e) => e.type === type && e.state_key === key)!.event_id;
    const pdu = hashAndSignEvent('10', {
      room_id: roomId, sender: bob.userId, type: 'm.room.message', content: { msgtype: 'm.text', body }, origin_server_ts: Date.now(),
      prev_events: [`$nowhere-${body}`], auth_events: [id('m.room.create'), id('m.room.power_levels'), id('m.room.member', bob.userId)], depth: 1000,
    }, 'b.test', bKey) as unknown as Pdu;
    return { eventId: eventIdOf('10', pdu), pdu };
  }
  const send = (pdus: Pdu[]) => asB.request('a.test', 'PUT', `/_matrix/federation/v1/send/hostile${++txn}`, { origin: 'b.test', origin_server_ts: Date.now(), pdus }) as Promise<{ pdus: Record<string, { error?: string }> }>;

  it('sends no request for a PDU whose signature fails', async () => {
    const { eventId, pdu } = await orphan('forged');
    const sig = pdu.signatures['b.test']!;
    const keyId = Object.keys(sig)[0]!;
    const forged = { ...pdu, signatures: { 'b.test': { [keyId]: sig[keyId]!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) } } };
    seenByB.length = 0;
    expect((await send([forged])).pdus[eventId]).toEqual({ error: expect.any(String) });
    expect(gapRequests()).toEqual([]);
  });

  it('takes nothing from a flood of garbage in place of the missing events, and answers the PDU with an error', async () => {
    const { eventId, pdu } = await orphan('flooded');
    const otherRoom = { ...pdu, room_id: '!elsewhere:b.test' };
    tamper = (path) => (path.includes('/get_missing_events/') ? { events: [...Array.from({ length: 500 }, (_, i) => ({ junk: i })), otherRoom] } : null);
    seenByB.length = 0;
    try {
      expect((await send([pdu])).pdus[eventId]).toEqual({ error: expect.stringContaining(`$nowhere-flooded`) });
    } finally {
      tamper = () => null;
    }
    expect(gapRequests().filter((p) => p.includes('/get_missing_events/'))).toHaveLength(1);
    expect((await bodies(alice)).includes('flooded')).toBe(false);
  });

  it('fills at most 3 gaps of one transaction', async () => {
    const pdus = await Promise.all([1, 2, 3, 4, 5].map((n) => orphan(`crowd ${n}`)));
    seenByB.length = 0;
    const answer = await send(pdus.map((p) => p.pdu));
    expect(gapRequests().filter((p) => p.includes('/get_missing_events/'))).toHaveLength(3);
    expect(answer.pdus[pdus[4]!.eventId]!.error).toContain('no more gaps filled in this transaction');
  });
});
