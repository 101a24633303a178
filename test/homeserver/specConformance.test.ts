// Every response body these calls get, and every transaction an appservice receives, is checked against
// the Matrix spec's own OpenAPI and event schemas (../shared/matrix-spec or PATCHBAY_MATRIX_SPEC).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  enc,
  registerUser,
  SpecValidator,
  startTestHomeserver,
  TestAppservice,
  waitFor,
  writeAppserviceRegistration,
  type HttpMethod,
  type JsonObject,
  type MatrixResponse,
  type TestHomeserver,
  type TestUser,
} from '../harness/index.js';

const spec = SpecValidator.load();
const describeWithSpec = spec ? describe : describe.skip;

describeWithSpec('homeserver responses conform to the Matrix spec (v1.19 data)', () => {
  const v = spec as SpecValidator;
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-spec-'));
  const as = new TestAppservice({ id: 'spec-as', prefix: '_spec_', protocol: 'specproto' });
  let hs: TestHomeserver;
  let alice: TestUser;
  let bob: TestUser;
  let roomId = '';
  let messageId = '';

  /** Asserts the body matches the spec's schema for this operation and status (errors listed on failure). */
  async function conforms(apiFile: string, path: string, method: HttpMethod, res: MatrixResponse<unknown>): Promise<void> {
    const errors = await v.validateResponse(apiFile, path, method, res.status, res.body);
    const endpoint = `${method.toUpperCase()} ${path} -> ${res.status}`;
    expect({ endpoint, errors }).toEqual({ endpoint, errors: [] });
  }

  /** Asserts an event matches its event schema (sync omits room_id, so the caller may add it). */
  async function eventConforms(event: JsonObject, where: string): Promise<void> {
    const errors = await v.validateEvent(event);
    const label = `${where}: ${String(event.type)} ${String(event.event_id ?? '')}`;
    expect({ label, errors }).toEqual({ label, errors: [] });
  }

  beforeAll(async () => {
    await as.start();
    hs = await startTestHomeserver({ appserviceConfigFiles: [await writeAppserviceRegistration(as, dir)] });
    as.homeserverUrl = hs.url;
  });

  afterAll(async () => {
    await hs?.stop();
    await as.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('discovery: versions and .well-known', async () => {
    await conforms('client-server/versions.yaml', '/versions', 'get', await hs.http.get('/_matrix/client/versions'));
    await conforms('client-server/wellknown.yaml', '/matrix/client', 'get', await hs.http.get('/.well-known/matrix/client'));
  });

  it('registration: the interactive-auth 401 and the final 200', async () => {
    const first = await hs.http.post('/register', { username: 'alice', password: 'pw' });
    expect(first.status).toBe(401);
    await conforms('client-server/registration.yaml', '/register', 'post', first);
    const session = typeof first.body.session === 'string' ? first.body.session : undefined;
    const done = await hs.http.post('/register', { username: 'alice', password: 'pw', auth: { type: 'm.login.dummy', session } });
    expect(done.status).toBe(200);
    await conforms('client-server/registration.yaml', '/register', 'post', done);
    bob = await registerUser(hs.url, 'bob');
  });

  it('login, whoami, capabilities, push rules, filters', async () => {
    await conforms('client-server/login.yaml', '/login', 'get', await hs.http.get('/login'));
    const login = await hs.http.post<{ access_token: string; user_id: string; device_id: string }>('/login', {
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: 'alice' },
      password: 'pw',
    });
    expect(login.status).toBe(200);
    await conforms('client-server/login.yaml', '/login', 'post', login);
    alice = { userId: login.body.user_id, accessToken: login.body.access_token, deviceId: login.body.device_id, password: 'pw', http: hs.http.as(login.body.access_token) };
    await conforms('client-server/whoami.yaml', '/account/whoami', 'get', await alice.http.get('/account/whoami'));
    await conforms('client-server/capabilities.yaml', '/capabilities', 'get', await alice.http.get('/capabilities'));
    await conforms('client-server/pushrules.yaml', '/pushrules/', 'get', await alice.http.get('/pushrules/'));
    const filter = await alice.http.post<{ filter_id: string }>(`/user/${enc(alice.userId)}/filter`, { room: { timeline: { limit: 10 } } });
    await conforms('client-server/filter.yaml', '/user/{userId}/filter', 'post', filter);
    await conforms('client-server/filter.yaml', '/user/{userId}/filter/{filterId}', 'get', await alice.http.get(`/user/${enc(alice.userId)}/filter/${enc(filter.body.filter_id)}`));
  });

  it('rooms: create, send, state, members, event, messages, directory, joined rooms', async () => {
    const created = await alice.http.post<{ room_id: string }>('/createRoom', {
      name: 'Spec room',
      topic: 'Checked against the spec',
      room_alias_name: 'specroom',
      visibility: 'public',
      preset: 'public_chat',
      invite: [as.senderUserId],
    });
    await conforms('client-server/create_room.yaml', '/createRoom', 'post', created);
    roomId = created.body.room_id;
    // A room of the appservice's own: its whole creation (create, power levels, join rules...) is sent to it.
    expect((await as.http.post('/createRoom', { name: 'Appservice room', topic: 'Bridged' })).status).toBe(200);
    await conforms('client-server/joining.yaml', '/join/{roomIdOrAlias}', 'post', await bob.http.post(`/join/${enc('#specroom:localhost')}`, {}));
    await conforms('client-server/joining.yaml', '/rooms/{roomId}/join', 'post', await as.http.post(`/rooms/${enc(roomId)}/join`, {}));
    const sent = await alice.http.put<{ event_id: string }>(`/rooms/${enc(roomId)}/send/m.room.message/spec1`, { msgtype: 'm.text', body: 'hello spec' });
    await conforms('client-server/room_send.yaml', '/rooms/{roomId}/send/{eventType}/{txnId}', 'put', sent);
    messageId = sent.body.event_id;
    await alice.http.put(`/rooms/${enc(roomId)}/send/m.room.message/spec2`, { msgtype: 'm.notice', body: 'a notice' });
    await alice.http.put(`/rooms/${enc(roomId)}/send/m.room.message/spec3`, { msgtype: 'm.emote', body: 'waves' });
    await bob.http.put(`/rooms/${enc(roomId)}/send/m.reaction/spec4`, { 'm.relates_to': { rel_type: 'm.annotation', event_id: messageId, key: '👍' } });
    const topic = await alice.http.put(`/rooms/${enc(roomId)}/state/m.room.topic/`, { topic: 'New topic' });
    await conforms('client-server/room_state.yaml', '/rooms/{roomId}/state/{eventType}/{stateKey}', 'put', topic);
    await conforms('client-server/rooms.yaml', '/rooms/{roomId}/state', 'get', await alice.http.get(`/rooms/${enc(roomId)}/state`));
    await conforms('client-server/rooms.yaml', '/rooms/{roomId}/state/{eventType}/{stateKey}', 'get', await alice.http.get(`/rooms/${enc(roomId)}/state/m.room.name/`));
    await conforms('client-server/rooms.yaml', '/rooms/{roomId}/members', 'get', await alice.http.get(`/rooms/${enc(roomId)}/members`));
    await conforms('client-server/rooms.yaml', '/rooms/{roomId}/joined_members', 'get', await alice.http.get(`/rooms/${enc(roomId)}/joined_members`));
    const event = await alice.http.get<JsonObject>(`/rooms/${enc(roomId)}/event/${enc(messageId)}`);
    await conforms('client-server/rooms.yaml', '/rooms/{roomId}/event/{eventId}', 'get', event);
    await eventConforms(event.body, 'GET event');
    const messages = await alice.http.get<{ chunk: JsonObject[] }>(`/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 50 } });
    await conforms('client-server/message_pagination.yaml', '/rooms/{roomId}/messages', 'get', messages);
    expect(messages.body.chunk.length).toBeGreaterThan(5);
    for (const e of messages.body.chunk) await eventConforms(e, '/messages chunk');
    await conforms('client-server/directory.yaml', '/directory/room/{roomAlias}', 'get', await alice.http.get(`/directory/room/${enc('#specroom:localhost')}`));
    await conforms('client-server/list_joined_rooms.yaml', '/joined_rooms', 'get', await alice.http.get('/joined_rooms'));
  });

  it('invites and leaves', async () => {
    const { body } = await alice.http.post<{ room_id: string }>('/createRoom', { name: 'Side room' });
    await conforms('client-server/inviting.yaml', '/rooms/{roomId}/invite', 'post', await alice.http.post(`/rooms/${enc(body.room_id)}/invite`, { user_id: bob.userId }));
    const sync = await bob.http.get<{ rooms?: { invite?: Record<string, { invite_state: { events: JsonObject[] } }> } }>('/sync', { query: { timeout: 0 } });
    await conforms('client-server/sync.yaml', '/sync', 'get', sync);
    expect(Object.keys(sync.body.rooms?.invite ?? {})).toContain(body.room_id);
    await conforms('client-server/leaving.yaml', '/rooms/{roomId}/leave', 'post', await bob.http.post(`/rooms/${enc(body.room_id)}/leave`, {}));
  });

  it('sync: initial and incremental, every timeline and state event against its schema', async () => {
    type SyncBody = { next_batch: string; rooms?: { join?: Record<string, { timeline?: { events: JsonObject[] }; state?: { events: JsonObject[] } }> } };
    const initial = await alice.http.get<SyncBody>('/sync', { query: { timeout: 0 } });
    await conforms('client-server/sync.yaml', '/sync', 'get', initial);
    const checkEvents = async (body: SyncBody, where: string): Promise<number> => {
      let n = 0;
      for (const [id, room] of Object.entries(body.rooms?.join ?? {})) {
        for (const e of [...(room.timeline?.events ?? []), ...(room.state?.events ?? [])]) {
          await eventConforms({ ...e, room_id: id }, where);
          n += 1;
        }
      }
      return n;
    };
    expect(await checkEvents(initial.body, 'initial sync')).toBeGreaterThan(0);
    await alice.http.put(`/rooms/${enc(roomId)}/send/m.room.message/spec-inc`, { msgtype: 'm.text', body: 'incremental' });
    const incremental = await alice.http.get<SyncBody>('/sync', { query: { since: initial.body.next_batch, timeout: 5_000 } });
    await conforms('client-server/sync.yaml', '/sync', 'get', incremental);
    expect(await checkEvents(incremental.body, 'incremental sync')).toBeGreaterThan(0);
    const full = await alice.http.get<SyncBody>('/sync', { query: { since: incremental.body.next_batch, full_state: true, timeout: 0 } });
    await conforms('client-server/sync.yaml', '/sync', 'get', full);
  });

  it('profile and public rooms', async () => {
    await conforms('client-server/profile.yaml', '/profile/{userId}/{keyName}', 'put', await alice.http.put(`/profile/${enc(alice.userId)}/displayname`, { displayname: 'Alice' }));
    await conforms('client-server/profile.yaml', '/profile/{userId}', 'get', await alice.http.get(`/profile/${enc(alice.userId)}`));
    await conforms('client-server/profile.yaml', '/profile/{userId}/{keyName}', 'get', await alice.http.get(`/profile/${enc(alice.userId)}/displayname`));
    const listed = await alice.http.get<{ chunk: Array<{ room_id: string }> }>('/publicRooms');
    await conforms('client-server/list_public_rooms.yaml', '/publicRooms', 'get', listed);
    expect(listed.body.chunk.map((r) => r.room_id)).toContain(roomId);
    await conforms('client-server/list_public_rooms.yaml', '/publicRooms', 'post', await alice.http.post('/publicRooms', { limit: 5, filter: { generic_search_term: 'Spec' } }));
  });

  it('third-party lookups and appservice ping', async () => {
    await conforms('client-server/third_party_lookup.yaml', '/thirdparty/protocols', 'get', await alice.http.get('/thirdparty/protocols'));
    await conforms('client-server/third_party_lookup.yaml', '/thirdparty/protocol/{protocol}', 'get', await alice.http.get('/thirdparty/protocol/specproto'));
    await conforms('client-server/third_party_lookup.yaml', '/thirdparty/user/{protocol}', 'get', await alice.http.get('/thirdparty/user/specproto', { query: { nick: 'x' } }));
    await conforms('client-server/third_party_lookup.yaml', '/thirdparty/location/{protocol}', 'get', await alice.http.get('/thirdparty/location/specproto', { query: { channel: '#x' } }));
    await conforms('client-server/third_party_lookup.yaml', '/thirdparty/user', 'get', await alice.http.get('/thirdparty/user', { query: { userid: '@_spec_x:localhost' } }));
    await conforms('client-server/third_party_lookup.yaml', '/thirdparty/location', 'get', await alice.http.get('/thirdparty/location', { query: { alias: '#_spec_x:localhost' } }));
    const ping = await as.http.post('/_matrix/client/v1/appservice/spec-as/ping', { transaction_id: 'spec-ping' });
    await conforms('client-server/appservice_ping.yaml', '/appservice/{appserviceId}/ping', 'post', ping);
  });

  it('error responses carry the spec\'s error shape', async () => {
    await conforms('client-server/whoami.yaml', '/account/whoami', 'get', await hs.http.get('/account/whoami'));
    await conforms('client-server/whoami.yaml', '/account/whoami', 'get', await hs.http.get('/account/whoami', { accessToken: 'nope' }));
    await conforms('client-server/rooms.yaml', '/rooms/{roomId}/event/{eventId}', 'get', await alice.http.get(`/rooms/${enc(roomId)}/event/${enc('$nope')}`));
    await conforms('client-server/room_send.yaml', '/rooms/{roomId}/send/{eventType}/{txnId}', 'put', await alice.http.request('PUT', `/rooms/${enc(roomId)}/send/m.room.message/bad`, { rawBody: '{not json' }));
  });

  it('every transaction the appservice received, and every event in it, matches the spec', async () => {
    await waitFor(() => as.events.some((e) => e.event_id === messageId), 20_000, 'the first message at the appservice');
    expect(as.accepted.length).toBeGreaterThan(0);
    const types = new Set<string>();
    for (const t of as.accepted) {
      const attempt = as.attempts.find((a) => a.txnId === t.txnId && a.answered === 200);
      const errors = await v.validateRequest('application-service/transactions.yaml', '/transactions/{txnId}', 'put', attempt?.body);
      expect({ txnId: t.txnId, errors }).toEqual({ txnId: t.txnId, errors: [] });
      for (const e of t.events) {
        types.add(e.type);
        await eventConforms(e as unknown as JsonObject, `transaction ${t.txnId}`);
      }
    }
    // The checks above only mean something if the transactions carried a variety of events.
    expect([...types]).toEqual(expect.arrayContaining(['m.room.create', 'm.room.member', 'm.room.message', 'm.room.power_levels']));
    for (const p of as.pings) {
      expect(await v.validateRequest('application-service/ping.yaml', '/ping', 'post', p)).toEqual([]);
    }
    expect(as.pings.length).toBeGreaterThan(0);
  });
});
