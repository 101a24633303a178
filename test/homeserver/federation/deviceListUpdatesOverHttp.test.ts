// A real embedded homeserver (hs.test, SQLite, federation on) tells a remote server (remote.test, an HTTP
// server in this test that checks every request's signature) about its users' devices: a key upload, a
// second device, a deleted device and cross-signing keys each become an EDU for the servers sharing a room
// with the user, with the stream_id/prev_id chain the spec describes, and user/devices names the chain's
// last stream_id. The remote member is written into the memberships table while the homeserver is stopped.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HomeserverOptions } from '../../../homeserver/contracts.js';
import { DEFAULT_SEND_OPTIONS } from '../../../homeserver/federation/send/FederationSender.js';
import { openDatabase } from '../../../homeserver/storage/Database.js';
import { FakeFederationPeer } from '../../../testkit/FakeFederationPeer.js';
import { enc, type JsonObject, loginUser, MatrixHttpClient, registerUser, SpecValidator, startTestHomeserver, testFederationOptions, waitFor, type TestHomeserver, type TestUser } from '../../harness/index.js';
import { crossSigningKeys, deviceKeys, signedBy } from '../e2ee/e2eeFixtures.js';

const spec = SpecValidator.load();

let dir: string;
let peer: FakeFederationPeer;
let hs: TestHomeserver;
let alice: TestUser;
let carol: TestUser;

type Edu = { edu_type: string; content: Record<string, unknown> };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pb-feddevices-'));
  peer = new FakeFederationPeer('remote.test', {});
  await peer.start();
  const options: Partial<HomeserverOptions> = {
    serverName: 'hs.test',
    storage: { kind: 'sqlite', path: join(dir, 'hs.sqlite') },
    signingKeyFile: join(dir, 'signing.key'),
    federation: testFederationOptions('hs.test', {
      keyValidityMs: 3600_000,
      peers: { 'remote.test': `http://127.0.0.1:${peer.port}` },
      sending: { ...DEFAULT_SEND_OPTIONS, retry: { initialMs: 50, maxMs: 200 } },
    }),
  };
  hs = await startTestHomeserver(options);
  alice = await registerUser(hs.url, 'alice');
  carol = await registerUser(hs.url, 'carol');
  const roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: {} })).room_id;
  await hs.stop();
  const db = openDatabase({ kind: 'sqlite', path: join(dir, 'hs.sqlite') });
  db.prepare("INSERT INTO memberships (room_id, user_id, membership, event_id, pos) VALUES (?, '@bob:remote.test', 'join', '$remote-join', 0)").run(roomId);
  db.close();
  hs = await startTestHomeserver(options);
  peer.senderUrls['hs.test'] = hs.url;
  alice = { ...alice, http: new MatrixHttpClient(hs.url, alice.accessToken) };
  carol = { ...carol, http: new MatrixHttpClient(hs.url, carol.accessToken) };
});

afterAll(async () => {
  await hs?.stop();
  await peer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The EDUs of `type` the peer received after `before` of them, once there are `count`. */
async function nextEdus(type: string, before: number, count = 1): Promise<Edu[]> {
  const of = () => peer.edus().filter((e) => e.edu_type === type);
  await waitFor(() => of().length >= before + count, 10_000, `${count} ${type}`);
  return of().slice(before);
}
const count = (type: string) => peer.edus().filter((e) => e.edu_type === type).length;

async function conformsToSpec(edu: Edu): Promise<void> {
  if (spec) expect(await spec.validateDefinition(`server-server/definitions/event-schemas/${edu.edu_type}.yaml`, edu)).toEqual([]);
}

describe('m.device_list_update to the servers sharing a room', () => {
  let first: Edu;

  it('announces a device that uploads its keys, with the keys and a stream_id', async () => {
    const before = count('m.device_list_update');
    const keys = deviceKeys(alice);
    await alice.http.ok('POST', '/keys/upload', { body: { device_keys: keys } });
    [first] = (await nextEdus('m.device_list_update', before)) as [Edu];
    expect(first.content).toEqual({ user_id: alice.userId, device_id: alice.deviceId, stream_id: expect.any(Number), prev_id: [], keys });
    await conformsToSpec(first);
  });

  it('chains the next device to the previous update (prev_id), and announces a deletion with deleted: true', async () => {
    const before = count('m.device_list_update');
    const phone = await loginUser(hs.url, 'alice');
    await phone.http.ok('POST', '/keys/upload', { body: { device_keys: deviceKeys(phone) } });
    const [second] = (await nextEdus('m.device_list_update', before)) as [Edu];
    expect(second.content).toMatchObject({ device_id: phone.deviceId, prev_id: [first.content['stream_id']] });
    expect(second.content['stream_id'] as number).toBeGreaterThan(first.content['stream_id'] as number);

    await phone.http.ok('POST', '/logout', { body: {} });
    const [, deleted] = (await nextEdus('m.device_list_update', before, 2)) as [Edu, Edu];
    expect(deleted.content).toEqual({ user_id: alice.userId, device_id: phone.deviceId, stream_id: expect.any(Number), prev_id: [second.content['stream_id']], deleted: true });
    await conformsToSpec(deleted);

  });

  it('announces new cross-signing keys as m.signing_key_update, without the user-signing key', async () => {
    const before = count('m.signing_key_update');
    const cs = crossSigningKeys(alice.userId);
    await alice.http.ok('POST', '/keys/device_signing/upload', { body: { master_key: cs.master_key, self_signing_key: cs.self_signing_key, user_signing_key: cs.user_signing_key } });
    const [update] = (await nextEdus('m.signing_key_update', before)) as [Edu];
    expect(update.content).toEqual({ user_id: alice.userId, master_key: cs.master_key, self_signing_key: cs.self_signing_key });
    await conformsToSpec(update);

    // A device signed by the self-signing key: its keys go again, with the new signature.
    const devices = count('m.device_list_update');
    const published = (await alice.http.ok<{ device_keys: Record<string, Record<string, JsonObject>> }>('POST', '/keys/query', { body: { device_keys: { [alice.userId]: [alice.deviceId] } } }))
      .device_keys[alice.userId]![alice.deviceId]!;
    const { unsigned: _unsigned, ...key } = published;
    const signed = signedBy(key, alice.userId, `ed25519:${cs.selfSigningPub}`);
    await alice.http.ok('POST', '/keys/signatures/upload', { body: { [alice.userId]: { [alice.deviceId]: signed } } });
    const [resigned] = (await nextEdus('m.device_list_update', devices)) as [Edu];
    expect(resigned.content).toMatchObject({ device_id: alice.deviceId, keys: { signatures: (signed['signatures'] as JsonObject) } });
    await conformsToSpec(resigned);
  });

  it('tells no one about a user who shares no room with another server', async () => {
    const before = peer.edus().length;
    await carol.http.ok('POST', '/keys/upload', { body: { device_keys: deviceKeys(carol) } });
    // alice's next change goes after carol's: once it arrived, carol's would have too.
    await alice.http.ok('PUT', `/presence/${enc(alice.userId)}/status`, { body: { presence: 'online', status_msg: 'marker' } });
    await waitFor(() => peer.edus().length > before, 10_000, 'the marker');
    expect(peer.edus().slice(before).map((e) => e.edu_type)).toEqual(['m.presence']);
  });
});
