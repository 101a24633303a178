// Appservices and encryption, through the real homeserver over HTTP: an appservice whose registration says
// `org.matrix.msc3202: true` (and receive_ephemeral) gets its users' to-device messages, device-list
// changes and key counts in its transactions under the unstable keys Synapse uses and mautrix reads; an
// appservice without the flag gets none of it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  enc,
  registerUser,
  startTestHomeserver,
  TestAppservice,
  waitFor,
  writeAppserviceRegistration,
  type JsonObject,
  type TestHomeserver,
  type TestUser,
} from '../../harness/index.js';
import { deviceKeys, fallbackKey, oneTimeKeys, spec } from './e2eeFixtures.js';

const TO_DEVICE = 'de.sorunome.msc2409.to_device';
const DEVICE_LISTS = 'org.matrix.msc3202.device_lists';
const OTK_COUNTS = 'org.matrix.msc3202.device_one_time_keys_count';
const FALLBACK_TYPES = 'org.matrix.msc3202.device_unused_fallback_key_types';
const E2EE_KEYS = [TO_DEVICE, DEVICE_LISTS, OTK_COUNTS, 'org.matrix.msc3202.device_one_time_key_counts', FALLBACK_TYPES];

type Body = JsonObject & { events?: unknown[] };

describe('appservices that take part in encryption', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-as-e2ee-'));
  const crypto = new TestAppservice({ id: 'crypto-as', prefix: '_crypto_', receiveEphemeral: true, encryption: true, sharedPrefix: 'shared_' });
  const plain = new TestAppservice({ id: 'plain-as', prefix: '_plain_', receiveEphemeral: true });
  let hs: TestHomeserver;
  let alice: TestUser;
  let bob: TestUser;
  let roomId = '';
  const ghost = '@_crypto_ghost:localhost';

  const bodies = (as: TestAppservice): Body[] => as.attempts.filter((a) => a.answered === 200).map((a) => a.body as Body);
  /** The first accepted transaction body after `from` that satisfies `test`. */
  const waitForBody = (as: TestAppservice, from: number, what: string, test: (b: Body) => boolean): Promise<Body> =>
    waitFor(() => bodies(as).slice(from).find(test), 20_000, what);
  const asGhost = { query: { user_id: ghost, device_id: 'GHOSTDEV' } };

  beforeAll(async () => {
    for (const as of [crypto, plain]) await as.start();
    hs = await startTestHomeserver({
      appserviceConfigFiles: [await writeAppserviceRegistration(crypto, dir), await writeAppserviceRegistration(plain, dir)],
    });
    for (const as of [crypto, plain]) as.homeserverUrl = hs.url;
    alice = await registerUser(hs.url, 'alice');
    bob = await registerUser(hs.url, 'bob');
    await crypto.http.ok('POST', '/register', { body: { type: 'm.login.application_service', username: '_crypto_ghost', inhibit_login: true } });
    await crypto.http.ok('PUT', '/devices/GHOSTDEV', { body: {}, query: { user_id: ghost } });
    roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat', invite: [ghost, plain.senderUserId] } })).room_id;
    await crypto.http.ok('POST', `/rooms/${enc(roomId)}/join`, { body: {}, query: { user_id: ghost } });
    await plain.http.ok('POST', `/rooms/${enc(roomId)}/join`, { body: {} });
  });
  afterAll(async () => {
    await hs?.stop();
    for (const as of [crypto, plain]) await as.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers a to-device message for its user\'s device, naming the recipient, and keeps no copy for /sync', async () => {
    const from = bodies(crypto).length;
    await alice.http.ok('PUT', '/sendToDevice/m.room.encrypted/td-ghost', { body: { messages: { [ghost]: { GHOSTDEV: { ciphertext: 'x' } } } } });
    const body = await waitForBody(crypto, from, 'a to-device message at the appservice', (b) => Array.isArray(b[TO_DEVICE]));
    expect(body[TO_DEVICE]).toEqual([{ to_user_id: ghost, to_device_id: 'GHOSTDEV', sender: alice.userId, type: 'm.room.encrypted', content: { ciphertext: 'x' } }]);
    if (spec) expect(await spec.validateRequest('application-service/transactions.yaml', '/transactions/{txnId}', 'put', body)).toEqual([]);
    // Nobody else can sync as a user of an exclusive namespace: the appservice had the only copy.
    const ghostSync = await crypto.http.ok<{ to_device: { events: unknown[] } }>('GET', '/sync', asGhost);
    expect(ghostSync.to_device.events).toEqual([]);
  });

  it('keeps a copy for /sync when the recipient is in a namespace it shares', async () => {
    const shared = await registerUser(hs.url, 'shared_carol');
    const from = bodies(crypto).length;
    await alice.http.ok('PUT', '/sendToDevice/org.example.cc/td-shared', { body: { messages: { [shared.userId]: { [shared.deviceId]: { n: 1 } } } } });
    const body = await waitForBody(crypto, from, 'the shared user\'s message at the appservice', (b) => Array.isArray(b[TO_DEVICE]));
    expect((body[TO_DEVICE] as JsonObject[]).map((m) => m['to_user_id'])).toEqual([shared.userId]);
    const s = await shared.http.ok<{ to_device: { events: Array<{ type: string }> } }>('GET', '/sync');
    expect(s.to_device.events.map((e) => e.type)).toEqual(['org.example.cc']);
  });

  it('reports device-list changes of users in its rooms, and not of others', async () => {
    const from = bodies(crypto).length;
    await bob.http.ok('POST', '/keys/upload', { body: { device_keys: deviceKeys(bob) } });
    await alice.http.ok('POST', '/keys/upload', { body: { device_keys: deviceKeys(alice) } });
    const body = await waitForBody(crypto, from, 'alice\'s device-list change', (b) => ((b[DEVICE_LISTS] as JsonObject | undefined)?.['changed'] as string[] | undefined)?.includes(alice.userId) === true);
    expect(bodies(crypto).slice(from).flatMap((b) => ((b[DEVICE_LISTS] as JsonObject | undefined)?.['changed'] as string[]) ?? [])).not.toContain(bob.userId);
    expect(body[DEVICE_LISTS]).toEqual({ changed: [alice.userId], left: [] });
  });

  it('reports a user who joins one of its rooms as changed and one who leaves all of them as left', async () => {
    const from = bodies(crypto).length;
    await bob.http.ok('POST', `/join/${enc(roomId)}`, { body: {} });
    await waitForBody(crypto, from, 'bob\'s join as a change', (b) => ((b[DEVICE_LISTS] as JsonObject | undefined)?.['changed'] as string[] | undefined)?.includes(bob.userId) === true);
    const afterJoin = bodies(crypto).length;
    await bob.http.ok('POST', `/rooms/${enc(roomId)}/leave`, { body: {} });
    const left = await waitForBody(crypto, afterJoin, 'bob leaving', (b) => b[DEVICE_LISTS] !== undefined);
    expect(left[DEVICE_LISTS]).toEqual({ changed: [], left: [bob.userId] });
  });

  it('sends its users\' one-time key counts and unused fallback key types, per device', async () => {
    await crypto.http.ok('POST', '/keys/upload', {
      body: { one_time_keys: oneTimeKeys({ userId: ghost, deviceId: 'GHOSTDEV' }, 3), fallback_keys: fallbackKey({ userId: ghost, deviceId: 'GHOSTDEV' }) },
      ...asGhost,
    });
    await alice.http.ok('POST', '/keys/claim', { body: { one_time_keys: { [ghost]: { GHOSTDEV: 'signed_curve25519' } } } });
    const from = bodies(crypto).length;
    await alice.http.ok('PUT', '/sendToDevice/m.room.encrypted/td-counts', { body: { messages: { [ghost]: { GHOSTDEV: { ciphertext: 'y' } } } } });
    const body = await waitForBody(crypto, from, 'key counts', (b) => b[OTK_COUNTS] !== undefined);
    expect((body[OTK_COUNTS] as JsonObject)[ghost]).toEqual({ GHOSTDEV: { signed_curve25519: 2 } });
    expect(body['org.matrix.msc3202.device_one_time_key_counts']).toEqual(body[OTK_COUNTS]);
    expect((body[FALLBACK_TYPES] as JsonObject)[ghost]).toEqual({ GHOSTDEV: ['signed_curve25519'] });
  });

  it('sends none of it to an appservice without org.matrix.msc3202, even with receive_ephemeral', async () => {
    await alice.http.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/last`, { body: { msgtype: 'm.text', body: 'last' } });
    await waitFor(() => plain.events.some((e) => e.content['body'] === 'last'), 20_000, 'the last message at the plain appservice');
    for (const body of bodies(plain)) for (const key of E2EE_KEYS) expect(body).not.toHaveProperty(key);
  });
});
