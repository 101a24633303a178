// Cross-signing over HTTP: the first upload needs no password (MSC3967, which matrix-js-sdk relies on), the
// same keys again neither, replacing them does (UIA with m.login.password, bound to its session); bad keys
// are refused; signatures show in /keys/query to whom the spec shows them. Device deletion uses the same UIA.
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
import { conforms, crossSigningKeys, deviceKeys, oneTimeKeys, signedBy, spec, type CrossSigningSet } from './e2eeFixtures.js';

interface QueryBody {
  device_keys: Record<string, Record<string, JsonObject>>;
  master_keys: Record<string, JsonObject>;
  self_signing_keys: Record<string, JsonObject>;
  user_signing_keys: Record<string, JsonObject>;
}

const SIGNING = 'client-server/cross_signing.yaml';

describe('cross-signing keys and signatures', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-xsign-'));
  const as = new TestAppservice({ id: 'xsign-as', prefix: '_xsign_' });
  let hs: TestHomeserver;
  let alice: TestUser;
  let bob: TestUser;
  let aliceKeys: CrossSigningSet;
  let aliceDevice: JsonObject;

  const password = (user: TestUser, session?: string) => ({
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: user.userId },
    password: user.password,
    ...(session !== undefined && { session }),
  });
  const uploadSigning = (user: TestUser, keys: Partial<CrossSigningSet>, auth?: JsonObject) =>
    user.http.post<JsonObject>('/keys/device_signing/upload', {
      master_key: keys.master_key,
      self_signing_key: keys.self_signing_key,
      user_signing_key: keys.user_signing_key,
      ...(auth && { auth }),
    });
  const query = async (viewer: TestUser, ...users: string[]): Promise<QueryBody> => {
    const res = await viewer.http.post<QueryBody>('/keys/query', { device_keys: Object.fromEntries(users.map((u) => [u, []])) });
    return conforms('client-server/keys.yaml', '/keys/query', 'post', res);
  };

  beforeAll(async () => {
    await as.start();
    hs = await startTestHomeserver({ appserviceConfigFiles: [await writeAppserviceRegistration(as, dir)] });
    as.homeserverUrl = hs.url;
    alice = await registerUser(hs.url, 'alice');
    bob = await registerUser(hs.url, 'bob');
    aliceDevice = deviceKeys(alice);
    await alice.http.ok('POST', '/keys/upload', { body: { device_keys: aliceDevice } });
    aliceKeys = crossSigningKeys(alice.userId);
  });
  afterAll(async () => {
    await hs?.stop();
    await as.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes the first upload without a password, and the same keys again without one', async () => {
    await conforms(SIGNING, '/keys/device_signing/upload', 'post', await uploadSigning(alice, aliceKeys));
    await conforms(SIGNING, '/keys/device_signing/upload', 'post', await uploadSigning(alice, aliceKeys));
    const seen = await query(bob, alice.userId);
    expect(seen.master_keys[alice.userId]).toEqual(aliceKeys.master_key);
    expect(seen.self_signing_keys[alice.userId]).toEqual(aliceKeys.self_signing_key);
    // The user-signing key is its owner's alone.
    expect(seen.user_signing_keys).toEqual({});
    expect((await query(alice, alice.userId)).user_signing_keys[alice.userId]).toEqual(aliceKeys.user_signing_key);
  });

  it('asks for the password to replace the keys, refuses a wrong one, and replaces them with the right one', async () => {
    const replacement = crossSigningKeys(alice.userId);
    const challenge = await uploadSigning(alice, replacement);
    expect(challenge.status).toBe(401);
    // The spec lists no 401 body for this endpoint; it is the UIA response every UIA endpoint gives.
    if (spec) expect(await spec.validateResponse('client-server/device_management.yaml', '/devices/{deviceId}', 'delete', 401, challenge.body)).toEqual([]);
    expect(challenge.body).toMatchObject({ flows: [{ stages: ['m.login.password'] }], params: {} });
    const session = challenge.body['session'] as string;

    const wrong = await uploadSigning(alice, replacement, { ...password(alice, session), password: 'not it' });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ errcode: 'M_FORBIDDEN', session, flows: [{ stages: ['m.login.password'] }] });
    expect((await query(bob, alice.userId)).master_keys[alice.userId]).toEqual(aliceKeys.master_key);

    // A session started by someone else, or for another operation, does not carry over.
    const bobChallenge = await bob.http.post<JsonObject>('/delete_devices', { devices: ['X'] });
    const stolen = await uploadSigning(alice, replacement, password(alice, bobChallenge.body['session'] as string));
    expect(stolen.status).toBe(400);

    await conforms(SIGNING, '/keys/device_signing/upload', 'post', await uploadSigning(alice, replacement, password(alice, session)));
    expect((await query(bob, alice.userId)).master_keys[alice.userId]).toEqual(replacement.master_key);
    aliceKeys = replacement;
  });

  it('lets an appservice replace its users\' keys without a password (spec v1.17)', async () => {
    const ghost = `@_xsign_ghost:${hs.serverName}`;
    await as.http.ok('POST', '/register', { body: { type: 'm.login.application_service', username: '_xsign_ghost', inhibit_login: true } });
    for (let i = 0; i < 2; i++) {
      const res = await as.http.post('/keys/device_signing/upload', { master_key: crossSigningKeys(ghost).master_key }, { query: { user_id: ghost } });
      expect(res.status).toBe(200);
    }
  });

  it('refuses keys that are not the uploader\'s, unsigned by the master key, or named like a device', async () => {
    const carol = await registerUser(hs.url, 'carol');
    const keys = crossSigningKeys(carol.userId);
    const notMine = await uploadSigning(carol, { master_key: crossSigningKeys(alice.userId).master_key });
    expect(notMine.body).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    const noMaster = await uploadSigning(carol, { self_signing_key: keys.self_signing_key });
    expect(noMaster.body).toMatchObject({ errcode: 'M_MISSING_PARAM' });
    const unsigned = await uploadSigning(carol, { master_key: keys.master_key, self_signing_key: { ...keys.self_signing_key, signatures: {} } });
    expect(unsigned.status).toBe(400);
    expect(unsigned.body).toMatchObject({ errcode: 'M_INVALID_SIGNATURE' });
    const twoKeys = await uploadSigning(carol, { master_key: { ...keys.master_key, keys: { 'ed25519:a': 'a', 'ed25519:b': 'b' } } });
    expect(twoKeys.body).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    const deviceNamed = await uploadSigning(carol, { master_key: { user_id: carol.userId, usage: ['master'], keys: { [`ed25519:${carol.deviceId}`]: carol.deviceId } } });
    expect(deviceNamed.status).toBe(403);
    expect((await query(bob, carol.userId)).master_keys).toEqual({});
  });

  it('shows a self-signing signature on a device to everyone, and a user-signing signature only to its maker', async () => {
    const onDevice = signedBy(aliceDevice, alice.userId, `ed25519:${aliceKeys.selfSigningPub}`);
    const onMaster = signedBy(aliceKeys.master_key, alice.userId, `ed25519:${alice.deviceId}`);
    const own = await alice.http.post('/keys/signatures/upload', { [alice.userId]: { [alice.deviceId]: onDevice, [aliceKeys.masterPub]: onMaster } });
    expect(await conforms(SIGNING, '/keys/signatures/upload', 'post', own)).toEqual({ failures: {} });

    const bobKeys = crossSigningKeys(bob.userId);
    await uploadSigning(bob, bobKeys);
    const vouched = signedBy(aliceKeys.master_key, bob.userId, `ed25519:${bobKeys.userSigningPub}`);
    const other = await bob.http.post('/keys/signatures/upload', { [alice.userId]: { [aliceKeys.masterPub]: vouched } });
    expect(await conforms(SIGNING, '/keys/signatures/upload', 'post', other)).toEqual({ failures: {} });

    const byBob = await query(bob, alice.userId);
    expect(byBob.device_keys[alice.userId]![alice.deviceId]!['signatures']).toEqual(onDevice['signatures']);
    expect(byBob.master_keys[alice.userId]!['signatures']).toEqual({
      ...(onMaster['signatures'] as JsonObject),
      [bob.userId]: (vouched['signatures'] as Record<string, JsonObject>)[bob.userId],
    });
    const byCarol = await query(await registerUser(hs.url, 'carol2'), alice.userId);
    expect(byCarol.master_keys[alice.userId]!['signatures']).toEqual(onMaster['signatures']);
    expect(byCarol.device_keys[alice.userId]![alice.deviceId]!['signatures']).toEqual(onDevice['signatures']);
  });

  it('reports signatures it cannot take as failures: unknown keys, changed objects, keys not allowed to sign', async () => {
    const phone = await loginUser(hs.url, 'alice');
    const phoneKeys = deviceKeys(phone);
    await phone.http.ok('POST', '/keys/upload', { body: { device_keys: phoneKeys } });
    const res = await alice.http.post<{ failures: Record<string, Record<string, JsonObject>> }>('/keys/signatures/upload', {
      [alice.userId]: {
        NOSUCHDEVICE: signedBy(phoneKeys, alice.userId, `ed25519:${aliceKeys.selfSigningPub}`),
        [phone.deviceId]: signedBy({ ...phoneKeys, algorithms: ['changed'] }, alice.userId, `ed25519:${aliceKeys.selfSigningPub}`),
      },
      [bob.userId]: { [bob.deviceId]: signedBy(deviceKeys(bob), alice.userId, `ed25519:${alice.deviceId}`) },
    });
    const body = await conforms(SIGNING, '/keys/signatures/upload', 'post', res);
    expect(body.failures[alice.userId]!['NOSUCHDEVICE']).toMatchObject({ errcode: 'M_NOT_FOUND' });
    expect(body.failures[alice.userId]![phone.deviceId]).toMatchObject({ errcode: 'M_INVALID_SIGNATURE' });
    expect(body.failures[bob.userId]).toBeDefined();
    const wrongSigner = await alice.http.post<{ failures: Record<string, Record<string, JsonObject>> }>('/keys/signatures/upload', {
      [alice.userId]: { [phone.deviceId]: signedBy(phoneKeys, alice.userId, `ed25519:${aliceKeys.userSigningPub}`) },
    });
    expect(wrongSigner.body.failures[alice.userId]![phone.deviceId]).toMatchObject({ errcode: 'M_INVALID_SIGNATURE' });
    expect((await query(bob, alice.userId)).device_keys[alice.userId]![phone.deviceId]).toEqual(phoneKeys);
  });

  it('deletes a device only after the password, and its keys and signatures with it', async () => {
    const old = await loginUser(hs.url, 'alice');
    await old.http.ok('POST', '/keys/upload', { body: { device_keys: deviceKeys(old), one_time_keys: oneTimeKeys(old, 3) } });
    const claim = { one_time_keys: { [alice.userId]: { [old.deviceId]: 'signed_curve25519' } } };
    const first = await alice.http.request<JsonObject>('DELETE', `/devices/${old.deviceId}`, { body: {} });
    await conforms('client-server/device_management.yaml', '/devices/{deviceId}', 'delete', first, 401);
    expect((await query(bob, alice.userId)).device_keys[alice.userId]).toHaveProperty(old.deviceId);
    const done = await alice.http.request('DELETE', `/devices/${old.deviceId}`, { body: { auth: password(alice, first.body['session'] as string) } });
    await conforms('client-server/device_management.yaml', '/devices/{deviceId}', 'delete', done);
    expect((await query(bob, alice.userId)).device_keys[alice.userId]).not.toHaveProperty(old.deviceId);
    expect((await bob.http.ok<JsonObject>('POST', '/keys/claim', { body: claim }))['one_time_keys']).toEqual({});
    expect((await old.http.get('/account/whoami')).status).toBe(401);
    // Deleted before: still 200 once authorised, as the spec says.
    const again = await alice.http.request('DELETE', `/devices/${old.deviceId}`, { body: { auth: password(alice) } });
    expect(again.status).toBe(200);
  });
});
