// The Application Service API seen from a real (minimal) appservice over HTTP: transactions, retries,
// queries, identity assertion, timestamp massaging, exclusivity, ping and third-party lookups.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientEvent } from '../../homeserver/contracts.js';
import {
  rateLimitsWith,
  enc,
  registerUser,
  startTestHomeserver,
  TestAppservice,
  waitFor,
  writeAppserviceRegistration,
  type TestHomeserver,
  type TestUser,
} from '../harness/index.js';

function bodyOf(event: ClientEvent): string {
  return typeof event.content.body === 'string' ? event.content.body : '';
}

describe('appservice API (homeserver side)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-as-suite-'));
  const as = new TestAppservice({ id: 'test-as', prefix: '_as_', protocol: 'testproto' });
  // Registered but not listening: for the ping error path.
  const downAs = new TestAppservice({ id: 'down-as', prefix: '_down_', protocol: 'downproto' });
  let hs: TestHomeserver;
  let alice: TestUser;
  let roomId = '';
  let txn = 0;

  const send = async (user: TestUser, room: string, body: string): Promise<string> => {
    txn += 1;
    const res = await user.http.put<{ event_id: string }>(`/rooms/${enc(room)}/send/m.room.message/t${txn}`, { msgtype: 'm.text', body });
    if (res.status !== 200) throw new Error(`send -> ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.event_id;
  };
  const delivered = (room: string, prefix: string): string[] =>
    as.events.filter((e) => e.room_id === room && e.type === 'm.room.message' && bodyOf(e).startsWith(prefix)).map(bodyOf);

  beforeAll(async () => {
    await as.start();
    await downAs.start();
    const files = [await writeAppserviceRegistration(as, dir), await writeAppserviceRegistration(downAs, dir)];
    await downAs.stop();
    // alice sends 250 messages as fast as she can: more than the shipped sends_per_user allows, on purpose.
    hs = await startTestHomeserver({ appserviceConfigFiles: files, rateLimits: rateLimitsWith({ sends_per_user: { per_second: 1000, burst: 1000 } }) });
    as.homeserverUrl = hs.url;
    downAs.homeserverUrl = hs.url;
    alice = await registerUser(hs.url, 'alice');
    // A room the appservice is interested in: its sender bot is invited and joins.
    const created = await alice.http.post<{ room_id: string }>('/createRoom', { name: 'Bridged room', invite: [as.senderUserId] });
    expect(created.status).toBe(200);
    roomId = created.body.room_id;
    const joined = await as.http.post(`/rooms/${enc(roomId)}/join`, {});
    expect(joined.status).toBe(200);
  });

  afterAll(async () => {
    await hs?.stop();
    await as.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends the events of rooms it is interested in, including its own invite', async () => {
    await waitFor(
      () => as.events.some((e) => e.type === 'm.room.member' && e.state_key === as.senderUserId && e.content.membership === 'join'),
      20_000,
      'the bot\'s join in a transaction',
    );
    const invite = as.events.find((e) => e.type === 'm.room.member' && e.state_key === as.senderUserId && e.content.membership === 'invite');
    expect(invite?.room_id).toBe(roomId);
    expect(invite?.sender).toBe(alice.userId);
  });

  it('delivers 250 messages once each, in order, at most 100 events per transaction', async () => {
    for (let i = 0; i < 250; i += 1) await send(alice, roomId, `seq ${i}`);
    await waitFor(() => delivered(roomId, 'seq ').length >= 250, 30_000, '250 messages at the appservice');
    expect(delivered(roomId, 'seq ')).toEqual(Array.from({ length: 250 }, (_, i) => `seq ${i}`));
    const ids = as.events.map((e) => e.event_id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const t of as.accepted) expect(t.events.length).toBeLessThanOrEqual(100);
    expect(as.accepted.length).toBeGreaterThanOrEqual(3);
    expect(as.authFailures).toEqual([]);
  });

  it('sends nothing from rooms it has no interest in', async () => {
    const other = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { name: 'Not bridged' } })).room_id;
    await send(alice, other, 'not for the appservice');
    // Delivery follows the stream order, so once this later marker arrives the earlier event would have too.
    const marker = await send(alice, roomId, 'interest marker');
    await waitFor(() => as.events.some((e) => e.event_id === marker), 20_000, 'the marker');
    expect(as.events.filter((e) => e.room_id === other)).toEqual([]);
  });

  it('retries a failed transaction with the same txnId and the same events', async () => {
    as.failNextTransactions(2);
    const eventId = await send(alice, roomId, 'retry me');
    await waitFor(() => as.events.some((e) => e.event_id === eventId), 30_000, 'the retried event');
    const accepted = as.accepted.find((t) => t.events.some((e) => e.event_id === eventId));
    const failed = as.attempts.filter((a) => a.answered === 500);
    expect(failed).toHaveLength(2);
    for (const attempt of failed) {
      expect(attempt.txnId).toBe(accepted?.txnId);
      expect(attempt.body.events).toEqual(accepted?.events);
    }
    expect(as.events.filter((e) => e.event_id === eventId)).toHaveLength(1);
  });

  it('keeps order across a failure: later events wait behind the failed transaction', async () => {
    as.failNextTransactions(1);
    for (let i = 0; i < 5; i += 1) await send(alice, roomId, `after-failure ${i}`);
    await waitFor(() => delivered(roomId, 'after-failure ').length >= 5, 30_000, 'five messages after a failure');
    expect(delivered(roomId, 'after-failure ')).toEqual(['after-failure 0', 'after-failure 1', 'after-failure 2', 'after-failure 3', 'after-failure 4']);
  });

  it('asks the appservice about an unknown namespace user on invite, then the invite succeeds', async () => {
    const res = await alice.http.post(`/rooms/${enc(roomId)}/invite`, { user_id: '@_as_unknown:localhost' });
    expect(as.userQueries).toContain('@_as_unknown:localhost');
    expect(res.status).toBe(200);
    await waitFor(
      () => as.events.some((e) => e.type === 'm.room.member' && e.state_key === '@_as_unknown:localhost' && e.content.membership === 'invite'),
      20_000,
      'the ghost\'s invite in a transaction',
    );
  });

  it('fails the invite when the appservice does not know the user either', async () => {
    const res = await alice.http.post(`/rooms/${enc(roomId)}/invite`, { user_id: '@_as_missing_x:localhost' });
    expect(as.userQueries).toContain('@_as_missing_x:localhost');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });

  it('asks the appservice about an unknown namespace alias on join, and the join succeeds', async () => {
    const res = await alice.http.post<{ room_id: string }>(`/join/${enc('#_as_room:localhost')}`, {});
    expect(as.aliasQueries).toContain('#_as_room:localhost');
    expect(res.status).toBe(200);
    const resolved = await alice.http.get<{ room_id: string }>(`/directory/room/${enc('#_as_room:localhost')}`);
    expect(resolved.status).toBe(200);
    expect(resolved.body.room_id).toBe(res.body.room_id);
    const joined = await alice.http.get<{ joined_rooms: string[] }>('/joined_rooms');
    expect(joined.body.joined_rooms).toContain(res.body.room_id);
  });

  it('answers an unknown alias outside every namespace with 404 without asking', async () => {
    const before = as.aliasQueries.length;
    const res = await alice.http.post(`/join/${enc('#nowhere:localhost')}`, {});
    expect(res.status).toBe(404);
    expect(as.aliasQueries.length).toBe(before);
  });

  describe('acting as its users', () => {
    const ghost = '@_as_ghost:localhost';

    beforeAll(async () => {
      const reg = await as.http.post('/register', { type: 'm.login.application_service', username: '_as_ghost', inhibit_login: true });
      expect(reg.status).toBe(200);
    });

    it('acts as its sender without user_id and as a namespace user with it', async () => {
      const self = await as.http.get<{ user_id: string }>('/account/whoami');
      expect(self.status).toBe(200);
      expect(self.body.user_id).toBe(as.senderUserId);
      const asGhost = await as.http.get<{ user_id: string }>('/account/whoami', { query: { user_id: ghost } });
      expect(asGhost.status).toBe(200);
      expect(asGhost.body.user_id).toBe(ghost);
    });

    it('refuses to act as a user outside its namespace (403) or one not registered', async () => {
      const outside = await as.http.get('/account/whoami', { query: { user_id: alice.userId } });
      expect(outside.status).toBe(403);
      expect(outside.body.errcode).toBe('M_FORBIDDEN');
      const unregistered = await as.http.get('/account/whoami', { query: { user_id: '@_as_never_registered:localhost' } });
      expect(unregistered.status).toBeGreaterThanOrEqual(400);
    });

    it('sends as the asserted user, with a massaged timestamp', async () => {
      await alice.http.post(`/rooms/${enc(roomId)}/invite`, { user_id: ghost });
      const join = await as.http.post(`/rooms/${enc(roomId)}/join`, {}, { query: { user_id: ghost } });
      expect(join.status).toBe(200);
      const ts = 1_600_000_000_000;
      const sent = await as.http.put<{ event_id: string }>(`/rooms/${enc(roomId)}/send/m.room.message/ghost-1`, { msgtype: 'm.text', body: 'from the past' }, { query: { user_id: ghost, ts } });
      expect(sent.status).toBe(200);
      const event = await alice.http.get<ClientEvent>(`/rooms/${enc(roomId)}/event/${enc(sent.body.event_id)}`);
      expect(event.status).toBe(200);
      expect(event.body.sender).toBe(ghost);
      expect(event.body.origin_server_ts).toBe(ts);
    });

    it('massages the timestamp of state events too', async () => {
      // The bot creates this room, so it has the power to send state in it.
      const own = await as.http.post<{ room_id: string }>('/createRoom', { name: 'Bot room' });
      expect(own.status).toBe(200);
      const ts = 1_600_000_000_500;
      const put = await as.http.put<{ event_id: string }>(`/rooms/${enc(own.body.room_id)}/state/m.room.topic/`, { topic: 'old news' }, { query: { ts } });
      expect(put.status).toBe(200);
      const event = await as.http.get<ClientEvent>(`/rooms/${enc(own.body.room_id)}/event/${enc(put.body.event_id)}`);
      expect(event.body.origin_server_ts).toBe(ts);
    });

    it('ignores ts from a normal user and rejects an invalid ts from an appservice', async () => {
      const ts = 1_500_000_000_000;
      const sent = await alice.http.put<{ event_id: string }>(`/rooms/${enc(roomId)}/send/m.room.message/alice-ts`, { msgtype: 'm.text', body: 'now' }, { query: { ts } });
      expect(sent.status).toBe(200);
      const event = await alice.http.get<ClientEvent>(`/rooms/${enc(roomId)}/event/${enc(sent.body.event_id)}`);
      expect(event.body.origin_server_ts).not.toBe(ts);
      const bad = await as.http.put(`/rooms/${enc(roomId)}/send/m.room.message/ghost-bad-ts`, { msgtype: 'm.text', body: 'x' }, { query: { user_id: ghost, ts: 'yesterday' } });
      expect(bad.status).toBe(400);
    });
  });

  describe('exclusive namespaces', () => {
    it('refuses a normal registration inside the namespace with M_EXCLUSIVE', async () => {
      const res = await hs.http.post('/register', { username: '_as_squatter', password: 'pw', auth: { type: 'm.login.dummy' } });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_EXCLUSIVE');
    });

    it('refuses an appservice registration outside its namespace with M_EXCLUSIVE', async () => {
      const res = await as.http.post('/register', { type: 'm.login.application_service', username: 'not_mine', inhibit_login: true });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_EXCLUSIVE');
    });

    it('refuses an appservice registration with a wrong token (401 M_UNKNOWN_TOKEN)', async () => {
      const res = await as.http.as('not-a-token').post('/register', { type: 'm.login.application_service', username: '_as_x', inhibit_login: true });
      expect(res.status).toBe(401);
      expect(res.body.errcode).toBe('M_UNKNOWN_TOKEN');
    });

    it('refuses a normal user an alias inside the namespace with M_EXCLUSIVE', async () => {
      const res = await alice.http.put(`/directory/room/${enc('#_as_taken:localhost')}`, { room_id: roomId });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_EXCLUSIVE');
    });
  });

  describe('ping', () => {
    it('pings the appservice with the transaction_id and reports the duration', async () => {
      const res = await as.http.post<{ duration_ms: number }>('/_matrix/client/v1/appservice/test-as/ping', { transaction_id: 'ping-1' });
      expect(res.status).toBe(200);
      expect(typeof res.body.duration_ms).toBe('number');
      expect(as.pings).toContainEqual({ transaction_id: 'ping-1' });
      expect(as.requests.find((r) => r.path === '/_matrix/app/v1/ping')?.authorization).toBe(`Bearer ${as.hsToken}`);
    });

    it('refuses a ping for another appservice\'s id or from a normal user (403)', async () => {
      const other = await as.http.post('/_matrix/client/v1/appservice/down-as/ping', {});
      expect(other.status).toBe(403);
      expect(other.body.errcode).toBe('M_FORBIDDEN');
      const user = await alice.http.post('/_matrix/client/v1/appservice/test-as/ping', {});
      expect(user.status).toBe(403);
    });

    it('reports an appservice that cannot be reached (502 M_CONNECTION_FAILED)', async () => {
      const res = await downAs.http.post('/_matrix/client/v1/appservice/down-as/ping', {});
      expect(res.status).toBe(502);
      expect(res.body.errcode).toBe('M_CONNECTION_FAILED');
    });
  });

  describe('third-party lookups', () => {
    it('lists the protocols appservices declare, with instance ids', async () => {
      const res = await alice.http.get<Record<string, { instances: Array<{ network_id: string; instance_id?: string }> }>>('/thirdparty/protocols');
      expect(res.status).toBe(200);
      expect(res.body.testproto?.instances[0]?.network_id).toBe('testnet');
      expect(typeof res.body.testproto?.instances[0]?.instance_id).toBe('string');
      const one = await alice.http.get<{ user_fields: string[] }>('/thirdparty/protocol/testproto');
      expect(one.status).toBe(200);
      expect(one.body.user_fields).toEqual(['network', 'nick']);
      const unknown = await alice.http.get('/thirdparty/protocol/nosuchproto');
      expect(unknown.status).toBe(404);
    });

    it('forwards user and location queries with their fields', async () => {
      const users = await alice.http.get<Array<{ userid: string; fields: Record<string, string> }>>('/thirdparty/user/testproto', { query: { network: 'testnet', nick: 'bob' } });
      expect(users.status).toBe(200);
      expect(users.body).toEqual([{ userid: '@_as_bob:localhost', protocol: 'testproto', fields: { network: 'testnet', nick: 'bob' } }]);
      const forwarded = as.requests.find((r) => r.path === '/_matrix/app/v1/thirdparty/user/testproto');
      expect(forwarded?.query).toEqual({ network: 'testnet', nick: 'bob' });
      const locations = await alice.http.get<Array<{ alias: string }>>('/thirdparty/location/testproto', { query: { network: 'testnet', channel: '#general' } });
      expect(locations.status).toBe(200);
      expect(locations.body[0]?.alias).toBe('#_as_general:localhost');
    });

    it('forwards reverse lookups by Matrix ID and alias', async () => {
      const users = await alice.http.get<Array<{ userid: string; protocol: string }>>('/thirdparty/user', { query: { userid: '@_as_bob:localhost' } });
      expect(users.status).toBe(200);
      expect(users.body).toEqual([{ userid: '@_as_bob:localhost', protocol: 'testproto', fields: { network: 'testnet', nick: 'bob' } }]);
      const locations = await alice.http.get<Array<{ alias: string; fields: Record<string, string> }>>('/thirdparty/location', { query: { alias: '#_as_general:localhost' } });
      expect(locations.status).toBe(200);
      expect(locations.body[0]?.fields.channel).toBe('#general');
    });
  });

  it('always authenticated itself to the appservice with the hs_token', () => {
    expect(as.authFailures).toEqual([]);
    expect(as.requests.every((r) => r.authorization === `Bearer ${as.hsToken}`)).toBe(true);
  });
});
