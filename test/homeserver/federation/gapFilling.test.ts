// Gaps in received history, between two real homeservers on loopback. B keeps at most one PDU queued for A
// (sending.maxQueuedPdus: 1), so while A is out of B's reach only B's newest event is left to send: A
// then receives an event whose prev_events it lacks, and fills the gap from B with get_missing_events
// (a short gap: every event arrives), or, past get_missing_events' limit of 10, with the state before the
// first event it could fetch (a long gap: a hole in A's timeline, but B's topic from inside the hole is
// A's current state all the same).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SEND_OPTIONS } from '../../../homeserver/federation/send/FederationSender.js';
import { enc, loopbackFederationOptions, registerUser, startTestHomeserver, waitFor, type TestHomeserver, type TestUser } from '../../harness/index.js';

let dir: string;
let a: TestHomeserver;
let b: TestHomeserver;
let alice: TestUser;
let bob: TestUser;
let roomId: string;
const bPeers: Record<string, string> = {};
const UNREACHABLE = 'http://127.0.0.1:9';

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
  aPeers['b.test'] = `http://127.0.0.1:${b.port}`;
  alice = await registerUser(a.url, 'alice');
  bob = await registerUser(b.url, 'bob');
  roomId = (await alice.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', { body: { preset: 'public_chat', power_level_content_override: { users: { [alice.userId]: 100, '@bob:b.test': 100 } } } })).room_id;
  await bob.http.ok('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { query: { server_name: 'a.test' } });
  await waitFor(async () => (await alice.http.ok<{ joined: Record<string, unknown> }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/joined_members`)).joined[bob.userId] !== undefined, 20_000, 'bob joined on A');
});

afterAll(async () => {
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
    await say(alice, 'after the long gap');
    await waitFor(async () => (await bodies(bob)).includes('after the long gap'), 20_000, 'A’s message on B');
  });
});
