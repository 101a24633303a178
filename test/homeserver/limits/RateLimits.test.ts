// homeserver.rate_limits over HTTP: 429 M_LIMIT_EXCEEDED with retry_after_ms and Retry-After (checked
// against the spec's data where the harness has it), per user and per address, and the appservice rules:
// `rate_limited: false` exempts the users an appservice acts as, `true` does not, its sender is exempt.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { register } from 'prom-client';
import {
  enc,
  MatrixHttpClient,
  rateLimitsWith,
  registerUser,
  SpecValidator,
  startTestHomeserver,
  TestAppservice,
  writeAppserviceRegistration,
  type HttpMethod,
  type MatrixResponse,
  type TestHomeserver,
  type TestUser,
} from '../../harness/index.js';

const spec = SpecValidator.load();
const tight = { per_second: 0.001, burst: 3 };

async function rejections(limit: string): Promise<number> {
  const metric = await register.getSingleMetric('patchbay_hs_rate_limited_total')?.get();
  return metric?.values.find((v) => v.labels.limit === limit)?.value ?? 0;
}

describe('rate limits (homeserver.rate_limits)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-ratelimits-'));
  const exempt = new TestAppservice({ id: 'exempt-as', prefix: '_free_', senderLocalpart: 'freebot', rateLimited: false });
  const limited = new TestAppservice({ id: 'limited-as', prefix: '_held_', senderLocalpart: 'heldbot', rateLimited: true });
  let hs: TestHomeserver;
  let alice: TestUser;
  let bob: TestUser;
  let roomId = '';
  let txn = 0;

  const send = (http: MatrixHttpClient, room: string, body: string, query?: Record<string, string>): Promise<MatrixResponse<Record<string, unknown>>> =>
    http.put(`/rooms/${enc(room)}/send/m.room.message/t${++txn}`, { msgtype: 'm.text', body }, { query });

  /** A 429 as the spec shapes it: M_LIMIT_EXCEEDED, retry_after_ms, and Retry-After in whole seconds. */
  async function limitedResponse(res: MatrixResponse<Record<string, unknown>>, operation?: [string, string, HttpMethod]): Promise<void> {
    expect(res.status).toBe(429);
    expect(res.body).toMatchObject({ errcode: 'M_LIMIT_EXCEEDED', error: expect.any(String), retry_after_ms: expect.any(Number) });
    const retryAfterMs = res.body.retry_after_ms as number;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(res.headers.get('retry-after')).toBe(String(Math.ceil(retryAfterMs / 1000)));
    if (!spec) return;
    const errors = operation
      ? await spec.validateResponse(operation[0], operation[1], operation[2], 429, res.body)
      : await spec.validateDefinition('client-server/definitions/errors/rate_limited.yaml', res.body);
    expect(errors).toEqual([]);
  }

  beforeAll(async () => {
    await exempt.start();
    await limited.start();
    hs = await startTestHomeserver({
      appserviceConfigFiles: [await writeAppserviceRegistration(exempt, dir), await writeAppserviceRegistration(limited, dir)],
      rateLimits: rateLimitsWith({
        sends_per_user: tight,
        room_creation_per_user: { per_second: 0.001, burst: 2 },
        joins_per_user: { per_second: 0.001, burst: 1 },
        invites_per_user: { per_second: 0.001, burst: 2 },
        registration_per_ip: { per_second: 0.001, burst: 5 },
        login_per_ip: { per_second: 0.001, burst: 5 },
        failed_login_per_account: { per_second: 0.001, burst: 2 },
      }),
    });
    exempt.homeserverUrl = hs.url;
    limited.homeserverUrl = hs.url;
    alice = await registerUser(hs.url, 'alice');
    bob = await registerUser(hs.url, 'bob');
    roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } })).room_id;
    await bob.http.ok('POST', `/rooms/${enc(roomId)}/join`, { body: {} });
    for (const as of [exempt, limited]) {
      await as.http.ok('POST', '/register', { body: { type: 'm.login.application_service', username: `${as.prefix}ghost` } });
      await as.http.ok('POST', `/join/${enc(roomId)}`, { body: {} });
      await as.http.ok('POST', `/join/${enc(roomId)}`, { body: {}, query: { user_id: `@${as.prefix}ghost:localhost` } });
    }
  });

  afterAll(async () => {
    await hs?.stop();
    await exempt.stop();
    await limited.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets a user send a burst, then answers 429 with retry_after_ms and Retry-After; other users are not held up', async () => {
    const before = await rejections('sends_per_user');
    for (let i = 0; i < 3; i += 1) expect((await send(alice.http, roomId, `burst ${i}`)).status).toBe(200);
    await limitedResponse(await send(alice.http, roomId, 'one too many'));
    // State events and redactions draw on the same bucket.
    await limitedResponse(await alice.http.put(`/rooms/${enc(roomId)}/state/m.room.topic`, { topic: 'x' }));
    expect((await send(bob.http, roomId, 'bob is fine')).status).toBe(200);
    expect(await rejections('sends_per_user')).toBe(before + 2);
  });

  it('limits room creation, joins and invites per user', async () => {
    const carol = await registerUser(hs.url, 'carol');
    for (let i = 0; i < 2; i += 1) expect((await carol.http.post('/createRoom', {})).status).toBe(200);
    const third = await carol.http.post('/createRoom', {});
    await limitedResponse(third);

    const rooms: string[] = [];
    for (let i = 0; i < 2; i += 1) rooms.push((await bob.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } })).room_id);
    expect((await carol.http.post(`/rooms/${enc(rooms[0]!)}/join`, {})).status).toBe(200);
    await limitedResponse(await carol.http.post(`/join/${enc(rooms[1]!)}`, {}), ['client-server/joining.yaml', '/join/{roomIdOrAlias}', 'post']);

    const dave = await registerUser(hs.url, 'dave');
    const erin = await registerUser(hs.url, 'erin');
    for (const who of [carol.userId, dave.userId]) expect((await alice.http.post(`/rooms/${enc(roomId)}/invite`, { user_id: who })).status).toBe(200);
    await limitedResponse(await alice.http.post(`/rooms/${enc(roomId)}/invite`, { user_id: erin.userId }), [
      'client-server/inviting.yaml',
      '/rooms/{roomId}/invite',
      'post',
    ]);
  });

  it('limits account creation per address, counting created accounts, not the UIA round trips', async () => {
    // alice, bob, carol, dave and erin came from this address already: the burst of 5.
    const res = await hs.http.post('/register', { username: 'frank', password: 'pw', auth: { type: 'm.login.dummy' } });
    await limitedResponse(res, ['client-server/registration.yaml', '/register', 'post']);
    // An appservice registering its users acts as its sender, which the spec exempts.
    expect((await limited.http.post('/register', { type: 'm.login.application_service', username: '_held_more' })).status).toBe(200);
  });

  it('limits wrong passwords per account, whoever tries them, and login attempts per address', async () => {
    const login = (user: string, password: string): Promise<MatrixResponse<Record<string, unknown>>> =>
      hs.http.post('/login', { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password });
    expect((await login('alice', 'wrong')).status).toBe(403);
    expect((await login('alice', 'wrong again')).status).toBe(403);
    // Two wrong guesses used up alice's allowance: even the right password waits now.
    await limitedResponse(await login('alice', alice.password), ['client-server/login.yaml', '/login', 'post']);
    expect((await login('bob', bob.password)).status).toBe(200);
    expect((await login('bob', bob.password)).status).toBe(200);
    // Five attempts from this address: the sixth is refused whoever it is for.
    await limitedResponse(await login('bob', bob.password), ['client-server/login.yaml', '/login', 'post']);
  });

  it('exempts the users of an appservice with rate_limited: false, and its sender', async () => {
    const ghost = `@${exempt.prefix}ghost:localhost`;
    for (let i = 0; i < 10; i += 1) expect((await send(exempt.http, roomId, `free ${i}`, { user_id: ghost })).status).toBe(200);
    for (let i = 0; i < 10; i += 1) expect((await send(exempt.http, roomId, `free bot ${i}`)).status).toBe(200);
  });

  it('holds the users of an appservice with rate_limited: true to the limits, but never its sender', async () => {
    const ghost = `@${limited.prefix}ghost:localhost`;
    for (let i = 0; i < 3; i += 1) expect((await send(limited.http, roomId, `held ${i}`, { user_id: ghost })).status).toBe(200);
    await limitedResponse(await send(limited.http, roomId, 'held over', { user_id: ghost }));
    for (let i = 0; i < 10; i += 1) expect((await send(limited.http, roomId, `held bot ${i}`)).status).toBe(200);
  });
});

describe('rate limits switched off (rate_limits.enabled: false)', () => {
  let hs: TestHomeserver;

  beforeAll(async () => {
    hs = await startTestHomeserver({ rateLimits: rateLimitsWith({ enabled: false, sends_per_user: { per_second: 0.001, burst: 1 } }) });
  });

  afterAll(async () => {
    await hs?.stop();
  });

  it('never answers 429', async () => {
    const alice = await registerUser(hs.url, 'alice');
    const { room_id } = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: {} });
    for (let i = 0; i < 5; i += 1) {
      expect((await alice.http.put(`/rooms/${enc(room_id)}/send/m.room.message/off${i}`, { msgtype: 'm.text', body: 'x' })).status).toBe(200);
    }
  });
});
