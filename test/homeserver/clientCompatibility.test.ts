// What real clients need beyond the basics: device lists with where and when each device was last seen
// (every key present, null when unknown, as matrix-nio requires), and OpenID tokens for widgets, checked
// at the federation userinfo path. Responses are checked against the spec's data.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  enc,
  loginUser,
  MatrixHttpClient,
  registerUser,
  SpecValidator,
  startTestHomeserver,
  TestAppservice,
  writeAppserviceRegistration,
  type HttpMethod,
  type MatrixResponse,
  type TestHomeserver,
  type TestUser,
} from '../harness/index.js';

const spec = SpecValidator.load();

interface Device {
  device_id: string;
  display_name: string | null;
  last_seen_ip: string | null;
  last_seen_ts: number | null;
}

async function conforms(apiFile: string, path: string, method: HttpMethod, res: MatrixResponse<unknown>): Promise<void> {
  if (!spec) return;
  expect(await spec.validateResponse(apiFile, path, method, res.status, res.body)).toEqual([]);
}

describe('devices and OpenID', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-compat-'));
  const as = new TestAppservice({ id: 'compat-as', prefix: '_compat_' });
  let hs: TestHomeserver;
  let alice: TestUser;

  const start = async (): Promise<TestHomeserver> =>
    startTestHomeserver({
      storage: { kind: 'sqlite', path: join(dir, 'hs.sqlite') },
      mediaDir: join(dir, 'media'),
      appserviceConfigFiles: [await writeAppserviceRegistration(as, dir)],
    });

  beforeAll(async () => {
    await as.start();
    hs = await start();
    as.homeserverUrl = hs.url;
    alice = await registerUser(hs.url, 'alice');
  });

  afterAll(async () => {
    await hs?.stop();
    await as.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists devices with display_name, last_seen_ip and last_seen_ts, as the spec shapes them', async () => {
    const before = Date.now();
    const list = await alice.http.get<{ devices: Device[] }>('/devices');
    expect(list.status).toBe(200);
    await conforms('client-server/device_management.yaml', '/devices', 'get', list);
    expect(list.body.devices).toEqual([
      { device_id: alice.deviceId, display_name: 'patchbay test', last_seen_ip: '127.0.0.1', last_seen_ts: expect.any(Number) },
    ]);
    // This very request counts as the device being seen.
    expect(list.body.devices[0]!.last_seen_ts).toBeGreaterThanOrEqual(before);
    const one = await alice.http.get<Device>(`/devices/${enc(alice.deviceId)}`);
    await conforms('client-server/device_management.yaml', '/devices/{deviceId}', 'get', one);
    expect(one.body.last_seen_ip).toBe('127.0.0.1');
  });

  it('sends every key, null when unknown (matrix-nio refuses a list without them)', async () => {
    await as.http.ok('POST', '/register', { body: { type: 'm.login.application_service', username: '_compat_ghost', inhibit_login: true } });
    const ghost = '@_compat_ghost:localhost';
    // An appservice creates a device for its user; the device has no name and has never made a request.
    await as.http.ok('PUT', '/devices/BRIDGED', { body: {}, query: { user_id: ghost } });
    const list = await as.http.ok<{ devices: Array<Record<string, unknown>> }>('GET', '/devices', { query: { user_id: ghost } });
    expect(list.devices).toEqual([{ device_id: 'BRIDGED', display_name: null, last_seen_ip: null, last_seen_ts: null }]);
    // Once a request names the device, it has been seen.
    await as.http.ok('GET', '/account/whoami', { query: { user_id: ghost, device_id: 'BRIDGED' } });
    const seen = await as.http.ok<{ devices: Device[] }>('GET', '/devices', { query: { user_id: ghost } });
    expect(seen.devices[0]).toMatchObject({ last_seen_ip: '127.0.0.1', last_seen_ts: expect.any(Number) });
  });

  it('keeps where a device was last seen across a restart', async () => {
    const phone = await loginUser(hs.url, 'alice');
    await phone.http.ok('GET', '/account/whoami');
    const seen = (await phone.http.ok<{ devices: Device[] }>('GET', '/devices')).devices.find((d) => d.device_id === phone.deviceId)!;
    await hs.stop();
    hs = await start();
    as.homeserverUrl = hs.url;
    const http = new MatrixHttpClient(hs.url, alice.accessToken);
    const after = (await http.ok<{ devices: Device[] }>('GET', '/devices')).devices.find((d) => d.device_id === phone.deviceId)!;
    expect(after).toEqual(seen);
    expect(after.last_seen_ip).toBe('127.0.0.1');
    alice = { ...alice, http };
  });

  it('believes X-Forwarded-For only from a trusted proxy', async () => {
    const proxied = await startTestHomeserver({ trustedProxies: ['127.0.0.1'] });
    try {
      const bob = await registerUser(proxied.url, 'bob');
      await bob.http.ok('GET', '/account/whoami', { headers: { 'X-Forwarded-For': '203.0.113.9' } });
      const list = await bob.http.ok<{ devices: Device[] }>('GET', '/devices', { headers: { 'X-Forwarded-For': '203.0.113.9' } });
      expect(list.devices[0]!.last_seen_ip).toBe('203.0.113.9');
    } finally {
      await proxied.stop();
    }
    // Without trusted_proxies the header is anyone's to write, so it is ignored.
    await alice.http.ok('GET', '/devices', { headers: { 'X-Forwarded-For': '203.0.113.9' } });
    const list = await alice.http.ok<{ devices: Device[] }>('GET', '/devices', { headers: { 'X-Forwarded-For': '203.0.113.9' } });
    expect(list.devices.map((d) => d.last_seen_ip)).not.toContain('203.0.113.9');
  });

  it('issues OpenID tokens that the userinfo path exchanges for the user ID, and that are nothing else', async () => {
    const res = await alice.http.post<{ access_token: string; token_type: string; matrix_server_name: string; expires_in: number }>(
      `/user/${enc(alice.userId)}/openid/request_token`,
      {},
    );
    expect(res.status).toBe(200);
    await conforms('client-server/openid.yaml', '/user/{userId}/openid/request_token', 'post', res);
    expect(res.body).toMatchObject({ token_type: 'Bearer', matrix_server_name: 'localhost', expires_in: 3600 });

    const info = await hs.http.get('/_matrix/federation/v1/openid/userinfo', { query: { access_token: res.body.access_token } });
    expect(info.status).toBe(200);
    expect(info.body).toEqual({ sub: alice.userId });
    await conforms('server-server/openid.yaml', '/openid/userinfo', 'get', info);

    const bogus = await hs.http.get('/_matrix/federation/v1/openid/userinfo', { query: { access_token: 'not-a-token' } });
    expect(bogus.status).toBe(401);
    expect(bogus.body).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
    await conforms('server-server/openid.yaml', '/openid/userinfo', 'get', bogus);
    // It is not an access token.
    expect((await hs.http.get('/account/whoami', { accessToken: res.body.access_token })).status).toBe(401);
    // Only for oneself.
    const other = await alice.http.post('/user/@someone:localhost/openid/request_token', {});
    expect(other.status).toBe(403);
  });
});
