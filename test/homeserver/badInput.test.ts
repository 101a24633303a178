// Bad input gets the spec's error (status and errcode), never crashes the server, and loses nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { enc, registerUser, startTestHomeserver, type TestHomeserver, type TestUser } from '../harness/index.js';

describe('homeserver under bad input', () => {
  let hs: TestHomeserver;
  let alice: TestUser;
  let roomId = '';
  let keptEventId = '';

  beforeAll(async () => {
    hs = await startTestHomeserver({ maxBodyBytes: 256 * 1024 });
    alice = await registerUser(hs.url, 'alice');
    roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { name: 'Sturdy' } })).room_id;
    keptEventId = (await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(roomId)}/send/m.room.message/keep`, { body: { msgtype: 'm.text', body: 'keep me' } })).event_id;
  });

  afterAll(async () => {
    await hs?.stop();
  });

  /** After each abuse: the server answers, alice's session works, and the earlier message is still there. */
  async function stillServing(): Promise<void> {
    expect((await hs.http.get('/_matrix/client/versions')).status).toBe(200);
    expect((await alice.http.get('/account/whoami')).body.user_id).toBe(alice.userId);
    const kept = await alice.http.get(`/rooms/${enc(roomId)}/event/${enc(keptEventId)}`);
    expect(kept.status).toBe(200);
    expect((kept.body.content as { body?: string }).body).toBe('keep me');
  }

  describe('malformed JSON', () => {
    it('answers a body that is not JSON with 400 M_NOT_JSON (authenticated and not)', async () => {
      const send = await alice.http.request('PUT', `/rooms/${enc(roomId)}/send/m.room.message/nj1`, { rawBody: '{"msgtype": "m.text", "body": ' });
      expect(send.status).toBe(400);
      expect(send.body).toMatchObject({ errcode: 'M_NOT_JSON' });
      const login = await hs.http.request('POST', '/login', { rawBody: 'type=m.login.password' });
      expect(login.status).toBe(400);
      expect(login.body).toMatchObject({ errcode: 'M_NOT_JSON' });
      const binary = await alice.http.request('POST', '/createRoom', { rawBody: new Uint8Array([0xff, 0xfe, 0x00, 0x01]) });
      expect(binary.status).toBe(400);
      expect(binary.body).toMatchObject({ errcode: 'M_NOT_JSON' });
      await stillServing();
    });

    it('answers JSON that is not an object with 400 (M_BAD_JSON or M_NOT_JSON)', async () => {
      for (const rawBody of ['[1,2,3]', '"text"', '42', 'null']) {
        const res = await alice.http.request('POST', '/createRoom', { rawBody });
        expect({ rawBody, status: res.status }).toEqual({ rawBody, status: 400 });
        expect(['M_BAD_JSON', 'M_NOT_JSON']).toContain(res.body.errcode);
      }
      await stillServing();
    });

    it('answers a missing required key with 400', async () => {
      const res = await alice.http.post(`/rooms/${enc(roomId)}/invite`, {});
      expect(res.status).toBe(400);
      expect(['M_BAD_JSON', 'M_MISSING_PARAM', 'M_INVALID_PARAM']).toContain(res.body.errcode);
      await stillServing();
    });

    it('survives deeply nested JSON', async () => {
      const depth = 20_000;
      const res = await alice.http.request('PUT', `/rooms/${enc(roomId)}/send/m.room.message/deep`, { rawBody: '{"msgtype":"m.text","body":"x","deep":' + '['.repeat(depth) + ']'.repeat(depth) + '}' });
      expect(res.status).toBeLessThan(500);
      await stillServing();
    });
  });

  describe('access tokens', () => {
    it('answers a request without a token with 401 M_MISSING_TOKEN', async () => {
      const res = await hs.http.get('/account/whoami');
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ errcode: 'M_MISSING_TOKEN' });
    });

    it('answers a wrong token with 401 M_UNKNOWN_TOKEN', async () => {
      const res = await hs.http.get('/account/whoami', { accessToken: 'syt_not_a_real_token' });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
      const send = await hs.http.put(`/rooms/${enc(roomId)}/send/m.room.message/x`, { msgtype: 'm.text', body: 'no' }, { accessToken: 'wrong' });
      expect(send.status).toBe(401);
      expect(send.body).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
    });

    it('answers a logged-out token with 401 M_UNKNOWN_TOKEN and keeps other sessions', async () => {
      const other = await hs.http.post<{ access_token: string }>('/login', { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: alice.password });
      expect(other.status).toBe(200);
      const session = hs.http.as(other.body.access_token);
      expect((await session.post('/logout', {})).status).toBe(200);
      const after = await session.get('/account/whoami');
      expect(after.status).toBe(401);
      expect(after.body).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
      await stillServing();
    });

    it('rejects a malformed Authorization header without crashing', async () => {
      for (const header of ['Bearer', 'Basic dXNlcjpwdw==', 'Bearer a b c', '']) {
        const res = await hs.http.get('/account/whoami', { accessToken: null, headers: { Authorization: header } });
        expect({ header, status: res.status }).toEqual({ header, status: 401 });
        expect(['M_MISSING_TOKEN', 'M_UNKNOWN_TOKEN']).toContain(res.body.errcode);
      }
      await stillServing();
    });
  });

  describe('credentials and parameters', () => {
    it('answers a wrong password with 403 M_FORBIDDEN and a taken username with M_USER_IN_USE', async () => {
      const login = await hs.http.post('/login', { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'wrong' });
      expect(login.status).toBe(403);
      expect(login.body).toMatchObject({ errcode: 'M_FORBIDDEN' });
      const taken = await hs.http.post('/register', { username: 'alice', password: 'pw', auth: { type: 'm.login.dummy' } });
      expect(taken.status).toBe(400);
      expect(taken.body).toMatchObject({ errcode: 'M_USER_IN_USE' });
      await stillServing();
    });

    it('answers a missing or invalid query parameter with 400', async () => {
      const noDir = await alice.http.get(`/rooms/${enc(roomId)}/messages`);
      expect(noDir.status).toBe(400);
      const badLimit = await alice.http.get(`/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 'many' } });
      expect(badLimit.status).toBe(400);
      const badSince = await alice.http.get('/sync', { query: { since: 'not-a-token', timeout: 0 } });
      expect(badSince.status).toBe(400);
      await stillServing();
    });

    it('treats a retried send (same txnId) as the same event, stored once', async () => {
      const first = await alice.http.put<{ event_id: string }>(`/rooms/${enc(roomId)}/send/m.room.message/retried`, { msgtype: 'm.text', body: 'sent twice' });
      const again = await alice.http.put<{ event_id: string }>(`/rooms/${enc(roomId)}/send/m.room.message/retried`, { msgtype: 'm.text', body: 'sent twice' });
      expect(first.status).toBe(200);
      expect(again.body.event_id).toBe(first.body.event_id);
      const messages = await alice.http.get<{ chunk: Array<{ content: { body?: string } }> }>(`/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 100 } });
      expect(messages.body.chunk.filter((e) => e.content.body === 'sent twice')).toHaveLength(1);
    });
  });

  describe('sizes', () => {
    it('answers a body over max_body_bytes with 413 M_TOO_LARGE', async () => {
      const big = JSON.stringify({ msgtype: 'm.text', body: 'x'.repeat(300 * 1024) });
      const res = await alice.http.request('PUT', `/rooms/${enc(roomId)}/send/m.room.message/big`, { rawBody: big });
      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ errcode: 'M_TOO_LARGE' });
      const unauthenticated = await hs.http.request('POST', '/login', { rawBody: JSON.stringify({ type: 'm.login.password', pad: 'x'.repeat(300 * 1024) }) });
      expect(unauthenticated.status).toBe(413);
      await stillServing();
    });

    it('answers an event over the spec\'s 64 KiB limit with 413 M_TOO_LARGE', async () => {
      const res = await alice.http.put(`/rooms/${enc(roomId)}/send/m.room.message/big-event`, { msgtype: 'm.text', body: 'y'.repeat(70 * 1024) });
      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ errcode: 'M_TOO_LARGE' });
      await stillServing();
    });
  });

  describe('identifiers', () => {
    it('refuses to register invalid user IDs with 400 M_INVALID_USERNAME', async () => {
      for (const username of ['bad name', 'colon:inside', 'emoji🙂', 'x'.repeat(260)]) {
        const res = await hs.http.post('/register', { username, password: 'pw', auth: { type: 'm.login.dummy' } });
        expect({ username, status: res.status, errcode: res.body.errcode }).toEqual({ username, status: 400, errcode: 'M_INVALID_USERNAME' });
      }
      await stillServing();
    });

    it('refuses to invite something that is not a user ID with 400', async () => {
      for (const userId of ['alice', '@nocolon', 'not an id', '']) {
        const res = await alice.http.post(`/rooms/${enc(roomId)}/invite`, { user_id: userId });
        expect({ userId, status: res.status }).toEqual({ userId, status: 400 });
      }
      await stillServing();
    });

    it('answers a path with an invalid room ID without a server error', async () => {
      const res = await alice.http.put(`/rooms/${enc('not-a-room')}/send/m.room.message/r1`, { msgtype: 'm.text', body: 'x' });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(typeof res.body.errcode).toBe('string');
      const unknownRoom = await alice.http.get(`/rooms/${enc('!doesnotexist:localhost')}/messages`, { query: { dir: 'b' } });
      expect(unknownRoom.status).toBeGreaterThanOrEqual(400);
      expect(unknownRoom.status).toBeLessThan(500);
      await stillServing();
    });
  });

  describe('routing', () => {
    it('answers unknown endpoints with 404 M_UNRECOGNIZED', async () => {
      for (const path of ['/_matrix/client/v3/no/such/endpoint', '/_matrix/client/r0/nonsense', '/_matrix/nothing', '/_matrix/client/v3/rooms']) {
        const res = await alice.http.get(path);
        expect({ path, status: res.status, errcode: res.body.errcode }).toEqual({ path, status: 404, errcode: 'M_UNRECOGNIZED' });
      }
      await stillServing();
    });

    it('answers a wrong method on a known endpoint with 405 M_UNRECOGNIZED', async () => {
      const createRoom = await alice.http.get('/createRoom');
      expect(createRoom.status).toBe(405);
      expect(createRoom.body).toMatchObject({ errcode: 'M_UNRECOGNIZED' });
      const versions = await hs.http.request('DELETE', '/_matrix/client/versions');
      expect(versions.status).toBe(405);
      expect(versions.body).toMatchObject({ errcode: 'M_UNRECOGNIZED' });
      await stillServing();
    });

    it('answers CORS preflight for any path and sets CORS headers on errors too', async () => {
      const pre = await fetch(`${hs.url}/_matrix/client/v3/createRoom`, {
        method: 'OPTIONS',
        headers: { Origin: 'https://app.element.io', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' },
      });
      expect(pre.status).toBeLessThan(300);
      expect(pre.headers.get('access-control-allow-origin')).toBe('*');
      const error = await hs.http.get('/_matrix/client/v3/no/such/endpoint');
      expect(error.headers.get('access-control-allow-origin')).toBe('*');
      expect(error.headers.get('content-type')).toMatch(/application\/json/);
    });
  });

  it('answers many bad requests at once and still serves afterwards', async () => {
    const abuse = Array.from({ length: 100 }, (_, i) => {
      switch (i % 4) {
        case 0:
          return alice.http.request('POST', '/createRoom', { rawBody: '{' });
        case 1:
          return hs.http.get('/account/whoami', { accessToken: `bad${i}` });
        case 2:
          return alice.http.get(`/no/such/${i}`);
        default:
          return alice.http.request('PUT', `/rooms/${enc(roomId)}/send/m.room.message/flood${i}`, { rawBody: 'z'.repeat(300 * 1024) });
      }
    });
    const statuses = (await Promise.all(abuse)).map((r) => r.status);
    expect(statuses.every((s) => s >= 400 && s < 500)).toBe(true);
    await stillServing();
  });
});
