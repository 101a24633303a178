// The joining side against a hostile resident server: evil.test (an HTTP server in this test with its own
// signing key) hosts a room and answers make_join and send_join as the test scripts it. A send_join answer
// whose state has a forged signature, that lacks the create event, or whose join rules forbid the join
// makes the client's join fail and leaves nothing of the room on b.test; an honest answer joins, and the
// join is not sent to evil.test again by /send. The room state evil.test sends with an invite
// (invite_room_state) or a knock's answer (knock_room_state) reaches bob's /sync without its badly signed
// entries and those of another room. History backfilled from evil.test leaves out a message the state
// before it forbids; a leave sent through evil.test (send_leave) is not sent to it again either.
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
import { enc, federationClientAs, registerUser, startTestHomeserver, testFederationOptions, waitFor, type TestHomeserver, type TestUser } from '../../harness/index.js';

const ROOM = '!hostile:evil.test';
const OTHER_ROOM = '!other:evil.test';
const HISTORY = '!history:evil.test';
const MALLORY = '@mallory:evil.test';
const BOSS = '@boss:evil.test';

let dir: string;
let b: TestHomeserver;
let bob: TestUser;
let evil: Server;
let evilKeys: ReturnType<typeof loadOrCreateSigningKeys>;
/** What evil.test answers send_join with, given bob's signed join. */
let sendJoinAnswer: (join: Pdu) => unknown;
/** What evil.test answers send_knock with. */
let sendKnockAnswer: () => unknown = () => ({ knock_room_state: [] });
/** The PDUs evil.test got through /send. */
const sent: Pdu[] = [];
/** The ids of the leaves evil.test got through send_leave. */
const leftWith: string[] = [];

const sign = (e: Record<string, unknown>): Pdu => hashAndSignEvent('10', e, 'evil.test', evilKeys.current) as unknown as Pdu;
const id = (p: Pdu): string => eventIdOf('10', p);
const ev = (type: string, stateKey: string, content: Record<string, unknown>, depth: number, prev: Pdu[], auth: Pdu[], room = ROOM): Pdu =>
  sign({ room_id: room, sender: BOSS, type, state_key: stateKey, content, depth, prev_events: prev.map(id), auth_events: auth.map(id), origin_server_ts: 1_700_000_000_000 + depth });

let create: Pdu;
let bossJoin: Pdu;
let power: Pdu;
let rules: Pdu;
/** Room HISTORY's events, oldest first: create, boss's join, power levels, join rules, then mallory's join, message, leave, a message after her leave, boss's message. */
let history: Pdu[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pb-fedhostile-'));
  evilKeys = loadOrCreateSigningKeys(join(dir, 'evil.key'));
  create = ev('m.room.create', '', { creator: BOSS, room_version: '10' }, 1, [], []);
  bossJoin = ev('m.room.member', BOSS, { membership: 'join' }, 2, [create], [create]);
  power = ev('m.room.power_levels', '', { users: { [BOSS]: 100 } }, 3, [bossJoin], [create, bossJoin]);
  rules = ev('m.room.join_rules', '', { join_rule: 'public' }, 4, [power], [create, bossJoin, power]);
  const inHistory = (sender: string, type: string, content: Record<string, unknown>, stateKey: string | undefined, auth: number[]): Pdu => {
    const prev = history.at(-1);
    const e = sign({ room_id: HISTORY, sender, type, content, ...(stateKey !== undefined && { state_key: stateKey }), depth: history.length + 1, prev_events: prev ? [id(prev)] : [], auth_events: auth.map((n) => id(history[n]!)), origin_server_ts: 1_700_000_000_000 + history.length });
    history.push(e);
    return e;
  };
  inHistory(BOSS, 'm.room.create', { creator: BOSS, room_version: '10' }, '', []);
  inHistory(BOSS, 'm.room.member', { membership: 'join' }, BOSS, [0]);
  inHistory(BOSS, 'm.room.power_levels', { users: { [BOSS]: 100 } }, '', [0, 1]);
  inHistory(BOSS, 'm.room.join_rules', { join_rule: 'public' }, '', [0, 1, 2]);
  inHistory(MALLORY, 'm.room.member', { membership: 'join' }, MALLORY, [0, 2, 3]);
  inHistory(MALLORY, 'm.room.message', { msgtype: 'm.text', body: 'while joined' }, undefined, [0, 2, 4]);
  inHistory(MALLORY, 'm.room.member', { membership: 'leave' }, MALLORY, [0, 2, 4]);
  // Her old join as its auth event: allowed by its own auth events, not by the state before it.
  inHistory(MALLORY, 'm.room.message', { msgtype: 'm.text', body: 'after leaving' }, undefined, [0, 2, 4]);
  inHistory(BOSS, 'm.room.message', { msgtype: 'm.text', body: 'last' }, undefined, [0, 1, 2]);
  const keys = new LocalServerKeys('evil.test', evilKeys, 3600_000);
  evil = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '';
      let body: unknown = { errcode: 'M_NOT_FOUND', error: 'no' };
      let status = 200;
      if (url === '/_matrix/key/v2/server') body = keys.serverKeys();
      else if (url.startsWith('/_matrix/federation/v1/make_join/')) {
        const room = decodeURIComponent(url.split('/')[5]!);
        const user = decodeURIComponent(url.split('/')[6]!.split('?')[0]!);
        const { prev, auth } = room === HISTORY ? { prev: history.at(-1)!, auth: [history[0]!, history[2]!, history[3]!] } : { prev: rules, auth: [create, power, rules] };
        body = { room_version: '10', event: { room_id: room, sender: user, state_key: user, type: 'm.room.member', content: { membership: 'join' }, origin: 'evil.test', origin_server_ts: Date.now(), depth: prev.depth + 1, prev_events: [id(prev)], auth_events: auth.map(id) } };
      } else if (url.startsWith('/_matrix/federation/v1/make_knock/')) {
        const room = decodeURIComponent(url.split('/')[5]!);
        const user = decodeURIComponent(url.split('/')[6]!.split('?')[0]!);
        body = { room_version: '10', event: { room_id: room, sender: user, state_key: user, type: 'm.room.member', content: { membership: 'knock' }, origin: 'evil.test', origin_server_ts: Date.now(), depth: 5, prev_events: [id(rules)], auth_events: [id(create), id(power), id(rules)] } };
      } else if (url.startsWith('/_matrix/federation/v2/send_join/')) body = sendJoinAnswer(JSON.parse(Buffer.concat(chunks).toString()) as Pdu);
      else if (url.startsWith('/_matrix/federation/v1/make_leave/')) {
        const user = decodeURIComponent(url.split('/')[6]!);
        const prev = history.at(-1)!;
        body = { room_version: '10', event: { room_id: HISTORY, sender: user, state_key: user, type: 'm.room.member', content: { membership: 'leave' }, origin: 'evil.test', origin_server_ts: Date.now(), depth: prev.depth + 2, prev_events: [id(prev)], auth_events: [0, 2].map((n) => id(history[n]!)) } };
      } else if (url.startsWith('/_matrix/federation/v2/send_leave/')) {
        leftWith.push(id(JSON.parse(Buffer.concat(chunks).toString()) as Pdu));
        body = {};
      } else if (url.startsWith('/_matrix/federation/v1/send_knock/')) body = sendKnockAnswer();
      else if (url.startsWith('/_matrix/federation/v1/backfill/')) body = { origin: 'evil.test', origin_server_ts: Date.now(), pdus: history.slice(4).reverse() };
      else if (url.startsWith('/_matrix/federation/v1/send/')) {
        sent.push(...((JSON.parse(Buffer.concat(chunks).toString()) as { pdus?: Pdu[] }).pdus ?? []));
        body = { pdus: {} };
      }
      else status = 404;
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  const port = (evil.address() as AddressInfo).port;
  b = await startTestHomeserver({
    serverName: 'b.test',
    signingKeyFile: join(dir, 'b.key'),
    federation: testFederationOptions('b.test', { keyValidityMs: 3600_000, peers: { 'evil.test': `http://127.0.0.1:${port}` } }),
  });
  bob = await registerUser(b.url, 'bob');
});

afterAll(async () => {
  await b?.stop();
  await new Promise((resolve) => evil?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const answer = (state: Pdu[], join: Pdu) => ({ origin: 'evil.test', members_omitted: false, state, auth_chain: [create, bossJoin, power], event: join });
const tryJoin = () => bob.http.request('POST', `/_matrix/client/v3/join/${enc(ROOM)}`, { query: { server_name: 'evil.test' } });
const roomOnB = async () => (await bob.http.request('GET', `/_matrix/client/v3/rooms/${enc(ROOM)}/state`)).status;

describe('a send_join answer that does not hold up', () => {
  it('a forged signature on the create event: the join fails and nothing of the room is stored', async () => {
    const forged = { ...create, signatures: { 'evil.test': { [evilKeys.current.keyId]: 'A'.repeat(86) } } } as Pdu;
    sendJoinAnswer = (j) => ({ ...answer([forged, bossJoin, power, rules], j), auth_chain: [forged, bossJoin, power] });
    const res = await tryJoin();
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(await roomOnB()).not.toBe(200);
    expect((await bob.http.ok<{ joined_rooms: string[] }>('GET', '/_matrix/client/v3/joined_rooms')).joined_rooms).toEqual([]);
  });

  it('join rules that forbid the join: 403, nothing stored', async () => {
    const inviteOnly = ev('m.room.join_rules', '', { join_rule: 'invite' }, 4, [power], [create, bossJoin, power]);
    sendJoinAnswer = (j) => answer([create, bossJoin, power, inviteOnly], j);
    const res = await tryJoin();
    expect(res.status).toBe(403);
    expect(await roomOnB()).not.toBe(200);
  });

  it('an honest answer joins (the same server, the same room)', async () => {
    let joinId = '';
    sendJoinAnswer = (j) => {
      joinId = id(j);
      return answer([create, bossJoin, power, rules], j);
    };
    const res = await tryJoin();
    expect(res.status).toBe(200);
    expect((await bob.http.ok<{ joined_rooms: string[] }>('GET', '/_matrix/client/v3/joined_rooms')).joined_rooms).toEqual([ROOM]);

    // evil.test has the join from send_join: /send brings bob's next message, not the join again.
    const msg = (await bob.http.ok<{ event_id: string }>('PUT', `/_matrix/client/v3/rooms/${enc(ROOM)}/send/m.room.message/m1`, { body: { msgtype: 'm.text', body: 'after the join' } })).event_id;
    await waitFor(() => sent.some((p) => id(p) === msg), 20_000, 'bob’s message at evil.test');
    expect(joinId).not.toBe('');
    expect(sent.map(id)).not.toContain(joinId);
  });
});

describe('the room state sent with an invite or a knock', () => {
  /** The entries: good create event, a forged name, a topic of another room, stripped join rules, an avatar whose content was changed after signing. */
  function roomState(room: string): unknown[] {
    const roomCreate = ev('m.room.create', '', { creator: BOSS, room_version: '10' }, 1, [], [], room);
    const name = ev('m.room.name', '', { name: 'Forged' }, 5, [roomCreate], [roomCreate], room);
    const forgedName = { ...name, signatures: { 'evil.test': { [evilKeys.current.keyId]: 'A'.repeat(86) } } };
    const otherTopic = ev('m.room.topic', '', { topic: 'another room' }, 5, [create], [create], OTHER_ROOM);
    const strippedRules = { type: 'm.room.join_rules', state_key: '', sender: BOSS, content: { join_rule: 'knock' } };
    const avatar = ev('m.room.avatar', '', { url: 'mxc://evil.test/a' }, 6, [roomCreate], [roomCreate], room);
    const changedAvatar = { ...avatar, content: { url: 'mxc://evil.test/changed' } };
    return [roomCreate, forgedName, otherTopic, strippedRules, changedAvatar];
  }
  const summary = (events: Array<{ type: string; content: Record<string, unknown> }>) =>
    Object.fromEntries(events.filter((e) => e.type !== 'm.room.member').map((e) => [e.type, e.content]));
  const expected = { 'm.room.create': { creator: BOSS, room_version: '10' }, 'm.room.join_rules': { join_rule: 'knock' }, 'm.room.avatar': {} };

  it('an invite from evil.test: bob sees the create event, the stripped join rules and the avatar redacted, nothing else', async () => {
    const room = '!invited:evil.test';
    const asEvil = federationClientAs('evil.test', evilKeys.current, { 'b.test': b.url });
    const invite = sign({ room_id: room, sender: BOSS, type: 'm.room.member', state_key: bob.userId, content: { membership: 'invite' }, origin_server_ts: Date.now(), depth: 7, prev_events: [], auth_events: [] });
    await asEvil.request('b.test', 'PUT', `/_matrix/federation/v2/invite/${enc(room)}/${enc(id(invite))}`, { room_version: '10', event: invite, invite_room_state: roomState(room) });
    const sync = await bob.http.ok<{ rooms: { invite?: Record<string, { invite_state: { events: Array<{ type: string; content: Record<string, unknown> }> } }> } }>('GET', '/_matrix/client/v3/sync');
    expect(summary(sync.rooms.invite![room]!.invite_state.events)).toEqual(expected);
  });

  it('a knock answered by evil.test: bob sees the same in knock_state', async () => {
    const room = '!knocked:evil.test';
    sendKnockAnswer = () => ({ knock_room_state: roomState(room) });
    await bob.http.ok('POST', `/_matrix/client/v3/knock/${enc(room)}`, { query: { server_name: 'evil.test' }, body: {} });
    const sync = await bob.http.ok<{ rooms: { knock?: Record<string, { knock_state: { events: Array<{ type: string; content: Record<string, unknown> }> } }> } }>('GET', '/_matrix/client/v3/sync');
    expect(summary(sync.rooms.knock![room]!.knock_state.events)).toEqual(expected);
  });
});

describe('history backfilled from evil.test', () => {
  it('leaves out a message the state before it forbids (its sender had left), though its own auth events allow it', async () => {
    sendJoinAnswer = (j) => ({ origin: 'evil.test', members_omitted: false, state: [0, 1, 2, 3, 6].map((n) => history[n]!), auth_chain: [0, 1, 2, 4].map((n) => history[n]!), event: j });
    expect((await bob.http.request('POST', `/_matrix/client/v3/join/${enc(HISTORY)}`, { query: { server_name: 'evil.test' } })).status).toBe(200);
    const bodies: string[] = [];
    let from: string | undefined;
    for (let page = 0; page < 10; page++) {
      const got = await bob.http.ok<{ chunk: Array<{ content: Record<string, unknown> }>; end?: string }>('GET', `/_matrix/client/v3/rooms/${enc(HISTORY)}/messages`, { query: { dir: 'b', limit: 10, ...(from && { from }) } });
      for (const e of got.chunk) if (typeof e.content['body'] === 'string') bodies.push(e.content['body']);
      if (got.end === undefined) break;
      from = got.end;
    }
    expect(bodies).toEqual(['last', 'while joined']);
  });

  it('bob leaves it through evil.test (send_leave), which does not get the leave again by /send', async () => {
    await bob.http.ok('POST', `/_matrix/client/v3/rooms/${enc(HISTORY)}/leave`, { body: {} });
    expect(leftWith.length).toBe(1);
    const msg = (await bob.http.ok<{ event_id: string }>('PUT', `/_matrix/client/v3/rooms/${enc(ROOM)}/send/m.room.message/m2`, { body: { msgtype: 'm.text', body: 'after the leave' } })).event_id;
    await waitFor(() => sent.some((p) => id(p) === msg), 20_000, 'bob’s message at evil.test');
    expect(sent.map(id)).not.toContain(leftWith[0]);
  });
});
