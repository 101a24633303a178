// The joining side against a hostile resident server: evil.test (an HTTP server in this test with its own
// signing key) hosts a room and answers make_join and send_join as the test scripts it. A send_join answer
// whose state has a forged signature, that lacks the create event, or whose join rules forbid the join
// makes the client's join fail and leaves nothing of the room on b.test; an honest answer joins.
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
import { enc, registerUser, startTestHomeserver, testFederationOptions, type TestHomeserver, type TestUser } from '../../harness/index.js';

const ROOM = '!hostile:evil.test';
const BOSS = '@boss:evil.test';

let dir: string;
let b: TestHomeserver;
let bob: TestUser;
let evil: Server;
let evilKeys: ReturnType<typeof loadOrCreateSigningKeys>;
/** What evil.test answers send_join with, given bob's signed join. */
let sendJoinAnswer: (join: Pdu) => unknown;

const sign = (e: Record<string, unknown>): Pdu => hashAndSignEvent('10', e, 'evil.test', evilKeys.current) as unknown as Pdu;
const id = (p: Pdu): string => eventIdOf('10', p);
const ev = (type: string, stateKey: string, content: Record<string, unknown>, depth: number, prev: Pdu[], auth: Pdu[]): Pdu =>
  sign({ room_id: ROOM, sender: BOSS, type, state_key: stateKey, content, depth, prev_events: prev.map(id), auth_events: auth.map(id), origin_server_ts: 1_700_000_000_000 + depth });

let create: Pdu;
let bossJoin: Pdu;
let power: Pdu;
let rules: Pdu;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pb-fedhostile-'));
  evilKeys = loadOrCreateSigningKeys(join(dir, 'evil.key'));
  create = ev('m.room.create', '', { creator: BOSS, room_version: '10' }, 1, [], []);
  bossJoin = ev('m.room.member', BOSS, { membership: 'join' }, 2, [create], [create]);
  power = ev('m.room.power_levels', '', { users: { [BOSS]: 100 } }, 3, [bossJoin], [create, bossJoin]);
  rules = ev('m.room.join_rules', '', { join_rule: 'public' }, 4, [power], [create, bossJoin, power]);
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
        const user = decodeURIComponent(url.split('/')[6]!.split('?')[0]!);
        body = { room_version: '10', event: { room_id: ROOM, sender: user, state_key: user, type: 'm.room.member', content: { membership: 'join' }, origin: 'evil.test', origin_server_ts: Date.now(), depth: 5, prev_events: [id(rules)], auth_events: [id(create), id(power), id(rules)] } };
      } else if (url.startsWith('/_matrix/federation/v2/send_join/')) body = sendJoinAnswer(JSON.parse(Buffer.concat(chunks).toString()) as Pdu);
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
    sendJoinAnswer = (j) => answer([create, bossJoin, power, rules], j);
    const res = await tryJoin();
    expect(res.status).toBe(200);
    expect((await bob.http.ok<{ joined_rooms: string[] }>('GET', '/_matrix/client/v3/joined_rooms')).joined_rooms).toEqual([ROOM]);
  });
});
