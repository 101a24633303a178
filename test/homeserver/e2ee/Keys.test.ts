// Device keys, one-time keys and fallback keys over HTTP, one rule at a time: what is uploaded comes back
// from /keys/query exactly, a one-time key is handed out once (even to claims racing each other), then
// the fallback key, and /sync tells the device its counts.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loginUser,
  registerUser,
  startTestHomeserver,
  TestAppservice,
  writeAppserviceRegistration,
  type JsonObject,
  type TestHomeserver,
  type TestUser,
} from '../../harness/index.js';
import { conforms, deviceKeys, fallbackKey, oneTimeKeys, sync } from './e2eeFixtures.js';

interface Claimed {
  one_time_keys: Record<string, Record<string, Record<string, JsonObject>>>;
  failures: JsonObject;
}

describe('keys: upload, query, claim', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-keys-'));
  const as = new TestAppservice({ id: 'keys-as', prefix: '_keys_' });
  let hs: TestHomeserver;
  let alice: TestUser;
  let bob: TestUser;

  const upload = (user: TestUser, body: JsonObject) => user.http.post<{ one_time_key_counts: Record<string, number> }>('/keys/upload', body);
  const claim = (user: TestUser, wanted: JsonObject) => user.http.post<Claimed>('/keys/claim', { one_time_keys: wanted });

  beforeAll(async () => {
    await as.start();
    hs = await startTestHomeserver({ appserviceConfigFiles: [await writeAppserviceRegistration(as, dir)] });
    as.homeserverUrl = hs.url;
    alice = await registerUser(hs.url, 'alice');
    bob = await registerUser(hs.url, 'bob');
  });
  afterAll(async () => {
    await hs?.stop();
    await as.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores device keys, one-time keys and a fallback key, and counts the one-time keys', async () => {
    const keys = deviceKeys(alice);
    const res = await upload(alice, { device_keys: keys, one_time_keys: oneTimeKeys(alice, 5), fallback_keys: fallbackKey(alice) });
    expect((await conforms('client-server/keys.yaml', '/keys/upload', 'post', res)).one_time_key_counts).toEqual({ signed_curve25519: 5 });

    const query = await bob.http.post<{ device_keys: Record<string, Record<string, JsonObject>> }>('/keys/query', {
      device_keys: { [alice.userId]: [], '@nobody:localhost': [] },
    });
    const body = await conforms('client-server/keys.yaml', '/keys/query', 'post', query);
    expect(body.device_keys[alice.userId]![alice.deviceId]).toEqual({ ...keys, unsigned: { device_display_name: 'patchbay test' } });
    expect(body.device_keys['@nobody:localhost']).toEqual({});

    const s = await sync(alice);
    expect(s.device_one_time_keys_count).toEqual({ signed_curve25519: 5 });
    expect(s.device_unused_fallback_key_types).toEqual(['signed_curve25519']);
  });

  it('answers a query for named devices only, and a remote user with a failure for their server', async () => {
    const second = await loginUser(hs.url, 'alice');
    await upload(second, { device_keys: deviceKeys(second) });
    const all = await bob.http.post<{ device_keys: Record<string, JsonObject> }>('/keys/query', { device_keys: { [alice.userId]: [] } });
    expect(Object.keys(all.body.device_keys[alice.userId]!).sort()).toEqual([alice.deviceId, second.deviceId].sort());
    const one = await bob.http.post<{ device_keys: Record<string, JsonObject>; failures: JsonObject }>('/keys/query', {
      device_keys: { [alice.userId]: [second.deviceId], '@zoe:elsewhere.example': [] },
    });
    const body = await conforms('client-server/keys.yaml', '/keys/query', 'post', one);
    expect(Object.keys(body.device_keys[alice.userId]!)).toEqual([second.deviceId]);
    expect(Object.keys(body.failures)).toEqual(['elsewhere.example']);
  });

  it('hands each one-time key out once, even to claims racing each other, then the fallback key again and again', async () => {
    const carol = await registerUser(hs.url, 'carol');
    const fallback = fallbackKey(carol, 'carolfb');
    await upload(carol, { device_keys: deviceKeys(carol), one_time_keys: oneTimeKeys(carol, 6), fallback_keys: fallback });
    const wanted = { [carol.userId]: { [carol.deviceId]: 'signed_curve25519' } };
    const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => claim(i % 2 === 0 ? alice : bob, wanted)));
    const handedOut = await Promise.all(claims.map(async (c) => Object.keys((await conforms('client-server/keys.yaml', '/keys/claim', 'post', c)).one_time_keys[carol.userId]![carol.deviceId]!)[0]!));
    const oneTime = handedOut.filter((k) => k !== 'signed_curve25519:carolfb');
    expect(new Set(oneTime).size).toBe(6);
    expect(oneTime).toHaveLength(6);
    expect(handedOut.filter((k) => k === 'signed_curve25519:carolfb')).toHaveLength(2);

    const again = await claim(bob, wanted);
    expect(again.body.one_time_keys[carol.userId]![carol.deviceId]).toEqual(fallback);
    const s = await sync(carol);
    expect(s.device_one_time_keys_count).toEqual({ signed_curve25519: 0 });
    expect(s.device_unused_fallback_key_types).toEqual([]);

    // A new fallback key is unused again; the same one uploaded again keeps its used mark.
    await upload(carol, { fallback_keys: fallback });
    expect((await sync(carol)).device_unused_fallback_key_types).toEqual([]);
    await upload(carol, { fallback_keys: fallbackKey(carol, 'carolfb2') });
    expect((await sync(carol)).device_unused_fallback_key_types).toEqual(['signed_curve25519']);
  });

  it('gives one-time keys out oldest upload first, and nothing for unknown devices', async () => {
    const dave = await registerUser(hs.url, 'dave');
    await upload(dave, { one_time_keys: oneTimeKeys(dave, 2, 'old') });
    await upload(dave, { one_time_keys: oneTimeKeys(dave, 2, 'a-new') });
    const wanted = { [dave.userId]: { [dave.deviceId]: 'signed_curve25519', NODEVICE: 'signed_curve25519' } };
    const first = [(await claim(bob, wanted)).body, (await claim(bob, wanted)).body].map((b) => Object.keys(b.one_time_keys[dave.userId]![dave.deviceId]!)[0]);
    expect(first.sort()).toEqual(['signed_curve25519:old0', 'signed_curve25519:old1']);
    expect((await claim(bob, wanted)).body.one_time_keys[dave.userId]).not.toHaveProperty('NODEVICE');
  });

  it('accepts a retried upload of the same one-time key and refuses the same key ID with other content', async () => {
    const erin = await registerUser(hs.url, 'erin');
    const keys = oneTimeKeys(erin, 1, 'same');
    expect((await upload(erin, { one_time_keys: keys })).status).toBe(200);
    expect((await upload(erin, { one_time_keys: keys })).body.one_time_key_counts).toEqual({ signed_curve25519: 1 });
    const clash = await upload(erin, { one_time_keys: oneTimeKeys(erin, 1, 'same') });
    expect(clash.status).toBe(400);
    expect(clash.body).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    expect((await sync(erin)).device_one_time_keys_count).toEqual({ signed_curve25519: 1 });
  });

  it('refuses device keys that describe another user or device, and malformed keys, storing nothing', async () => {
    const frank = await registerUser(hs.url, 'frank');
    const wrongDevice = await upload(frank, { device_keys: { ...deviceKeys(frank), device_id: 'OTHER' } });
    expect(wrongDevice.status).toBe(400);
    expect(wrongDevice.body).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    const wrongUser = await upload(frank, { device_keys: deviceKeys({ userId: alice.userId, deviceId: frank.deviceId }) });
    expect(wrongUser.status).toBe(400);
    const badOtk = await upload(frank, { one_time_keys: { 'no-colon': 'x' } });
    expect(badOtk.body).toMatchObject({ errcode: 'M_BAD_JSON' });
    const badShape = await upload(frank, { one_time_keys: { 'signed_curve25519:a': { key: 5 } } });
    expect(badShape.body).toMatchObject({ errcode: 'M_BAD_JSON' });
    const query = await bob.http.post<{ device_keys: Record<string, JsonObject> }>('/keys/query', { device_keys: { [frank.userId]: [] } });
    expect(query.body.device_keys[frank.userId]).toEqual({});
    expect((await sync(frank)).device_one_time_keys_count).toEqual({ signed_curve25519: 0 });
  });

  it('lets an appservice upload keys for one of its users\' devices, and only with a device', async () => {
    const ghost = `@_keys_ghost:${hs.serverName}`;
    await as.http.ok('POST', '/register', { body: { type: 'm.login.application_service', username: '_keys_ghost', inhibit_login: true } });
    await as.http.ok('PUT', '/devices/GHOSTDEV', { body: {}, query: { user_id: ghost } });
    const noDevice = await as.http.post('/keys/upload', { one_time_keys: oneTimeKeys({ userId: ghost, deviceId: 'GHOSTDEV' }, 1) }, { query: { user_id: ghost } });
    expect(noDevice.status).toBe(400);
    const keys = deviceKeys({ userId: ghost, deviceId: 'GHOSTDEV' });
    const res = await as.http.post('/keys/upload', { device_keys: keys }, { query: { user_id: ghost, 'org.matrix.msc3202.device_id': 'GHOSTDEV' } });
    expect(res.status).toBe(200);
    const query = await bob.http.post<{ device_keys: Record<string, Record<string, JsonObject>> }>('/keys/query', { device_keys: { [ghost]: [] } });
    expect(query.body.device_keys[ghost]!['GHOSTDEV']).toMatchObject(keys);
  });
});
