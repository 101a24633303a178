// Issue 14's network split, between two real homeservers on loopback: alice on a.test and bob on b.test,
// both at power level 100, share a room. The servers lose each other; each side sends messages and changes
// m.room.power_levels its own way. B is stopped and started again on the same database; each side catches up
// (its queue for the other kept only the newest events: the rest is fetched with get_missing_events), then
// both hold the same current state (state resolution v2 picks one of the two power-level
// events on both) and each side's messages show on the other.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HomeserverOptions } from '../../../homeserver/contracts.js';
import { DEFAULT_SEND_OPTIONS } from '../../../homeserver/federation/send/FederationSender.js';
import { MatrixHttpClient } from '../../../testkit/MatrixHttpClient.js';
import { enc, loopbackFederationOptions, registerUser, startTestHomeserver, waitFor, type TestHomeserver, type TestUser } from '../../harness/index.js';

let dir: string;
let a: TestHomeserver;
let b: TestHomeserver;
let bOptions: Partial<HomeserverOptions>;
let alice: TestUser;
let bob: TestUser;
let roomId: string;
const aPeers: Record<string, string> = {};
const bPeers: Record<string, string> = {};
const UNREACHABLE = 'http://127.0.0.1:9';
// Each server keeps at most two PDUs waiting for the other (besides the transaction in flight): the older
// ones are dropped, so catching up takes get_missing_events, as after a long outage.
const sending = { ...DEFAULT_SEND_OPTIONS, maxQueuedPdus: 2, retry: { initialMs: 100, maxMs: 500 } };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pb-fedsplit-'));
  a = await startTestHomeserver({ serverName: 'a.test', signingKeyFile: join(dir, 'a.key'), federation: { ...loopbackFederationOptions('a.test', aPeers, ['a.test', 'b.test']), sending } });
  bPeers['a.test'] = `http://127.0.0.1:${a.port}`;
  bOptions = {
    serverName: 'b.test',
    storage: { kind: 'sqlite', path: join(dir, 'b.sqlite') },
    mediaDir: join(dir, 'b-media'),
    signingKeyFile: join(dir, 'b.key'),
    federation: { ...loopbackFederationOptions('b.test', bPeers, ['a.test', 'b.test']), sending },
  };
  b = await startTestHomeserver(bOptions);
  aPeers['b.test'] = `http://127.0.0.1:${b.port}`;
  alice = await registerUser(a.url, 'alice');
  bob = await registerUser(b.url, 'bob');
  roomId = (await alice.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', {
    body: { preset: 'public_chat', power_level_content_override: { users: { [alice.userId]: 100, [bob.userId]: 100 } } },
  })).room_id;
  await bob.http.ok('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { query: { server_name: 'a.test' } });
  await waitFor(async () => (await members(alice)).includes(bob.userId), 20_000, 'bob joined on A');
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

type ClientEvent = { event_id: string; type: string; state_key?: string; content: Record<string, unknown> };
const members = async (user: TestUser): Promise<string[]> =>
  Object.keys((await user.http.ok<{ joined: Record<string, unknown> }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/joined_members`)).joined);
const bodies = async (user: TestUser): Promise<string[]> =>
  (await user.http.ok<{ chunk: ClientEvent[] }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 100 } })).chunk
    .map((e) => e.content['body'])
    .filter((x): x is string => typeof x === 'string');
/** The room's current state as "type|state_key" -> event id. */
const stateIds = async (user: TestUser): Promise<Record<string, string>> =>
  Object.fromEntries((await user.http.ok<ClientEvent[]>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/state`)).map((e) => [`${e.type}|${e.state_key}`, e.event_id]));
const say = (user: TestUser, body: string) => user.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/${enc(body)}`, { body: { msgtype: 'm.text', body } });
async function changePowerLevels(user: TestUser, change: Record<string, unknown>): Promise<string> {
  const pl = await user.http.ok<Record<string, unknown>>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.power_levels`);
  return (await user.http.ok<{ event_id: string }>('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.power_levels`, { body: { ...pl, ...change } })).event_id;
}

describe('a network split that heals', () => {
  it('ends with the same state on both servers, and each side’s messages on the other', async () => {
    await say(alice, 'before the split');
    await waitFor(async () => (await bodies(bob)).includes('before the split'), 20_000, 'the last message before the split on B');

    const bAddress = aPeers['b.test']!;
    aPeers['b.test'] = UNREACHABLE;
    bPeers['a.test'] = UNREACHABLE;
    await say(alice, 'A during the split 1');
    const plA = await changePowerLevels(alice, { state_default: 60, events: { 'm.room.topic': 70 } });
    await say(alice, 'A during the split 2');
    await say(alice, 'A during the split 3');
    await say(bob, 'B during the split 1');
    const plB = await changePowerLevels(bob, { state_default: 40, invite: 30 });
    await say(bob, 'B during the split 2');
    await say(bob, 'B during the split 3');
    expect((await stateIds(alice))['m.room.power_levels|']).toBe(plA);
    expect((await stateIds(bob))['m.room.power_levels|']).toBe(plB);

    // B goes down and comes back on the same data, at a new port A learns of.
    await b.stop();
    bPeers['a.test'] = `http://127.0.0.1:${a.port}`;
    b = await startTestHomeserver(bOptions);
    bob = { ...bob, http: new MatrixHttpClient(b.url, bob.accessToken) };
    aPeers['b.test'] = `http://127.0.0.1:${b.port}`;
    expect(aPeers['b.test']).not.toBe(bAddress);

    const fromA = [1, 2, 3].map((n) => `A during the split ${n}`);
    const fromB = [1, 2, 3].map((n) => `B during the split ${n}`);
    await waitFor(async () => (await bodies(bob)).filter((x) => fromA.includes(x)).length === 3, 30_000, 'A’s messages on B');
    await waitFor(async () => (await bodies(alice)).filter((x) => fromB.includes(x)).length === 3, 30_000, 'B’s messages on A');
    const sorted = (s: Record<string, string>) => JSON.stringify(Object.entries(s).sort(([x], [y]) => (x < y ? -1 : 1)));
    await waitFor(async () => sorted(await stateIds(alice)) === sorted(await stateIds(bob)), 30_000, 'the same state on A and B');
    const state = await stateIds(alice);
    expect([plA, plB]).toContain(state['m.room.power_levels|']);
    expect(state).toEqual(await stateIds(bob));

    // Both build on the merged graph afterwards.
    await say(bob, 'B after the split');
    await say(alice, 'A after the split');
    await waitFor(async () => (await bodies(alice)).includes('B after the split'), 20_000, 'B’s next message on A');
    await waitFor(async () => (await bodies(bob)).includes('A after the split'), 20_000, 'A’s next message on B');
  });
});
