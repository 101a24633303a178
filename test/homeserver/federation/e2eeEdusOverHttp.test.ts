// The EDUs end-to-end encryption and presence need, between two embedded homeservers (a.test and b.test on
// loopback, each in the other's `peers`): alice on A shares a room with bob on B. What bob does on B
// (send-to-device, key uploads, presence) reaches alice's /sync on A; EDUs A receives that a server may not
// send (about another server's users, for users sharing no room, a to-device message sent twice) change
// nothing. Hostile EDUs are sent to A as b.test, signed with B's own key.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { loadOrCreateSigningKeys } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import type { FederationClient } from '../../../homeserver/federation/transport/FederationClient.js';
import { enc, federationClientAs, loginUser, registerUser, startServerPair, type TestHomeserver, type TestUser, waitFor } from '../../harness/index.js';
import { crossSigningKeys, deviceKeys, sync, type SyncBody } from '../e2ee/e2eeFixtures.js';

type Presence = { sender: string; content: Record<string, unknown> };
type FullSync = SyncBody & { presence?: { events: Presence[] } };

let dir: string;
let a: TestHomeserver;
let b: TestHomeserver;
let stopServers: (() => Promise<void>) | undefined;
let alice: TestUser;
let aliceLaptop: TestUser;
let bob: TestUser;
let asB: FederationClient;
let txn = 0;
let roomId: string;

beforeAll(async () => {
  ({ a, b, dir, stop: stopServers } = await startServerPair({ name: 'fededus' }));
  asB = federationClientAs('b.test', loadOrCreateSigningKeys(join(dir, 'b.key')).current, { 'a.test': `http://127.0.0.1:${a.port}` });
  alice = await registerUser(a.url, 'alice');
  aliceLaptop = await loginUser(a.url, 'alice');
  bob = await registerUser(b.url, 'bob');
  roomId = (await alice.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', { body: { preset: 'public_chat' } })).room_id;
  await bob.http.ok('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { query: { server_name: 'a.test' } });
});

afterAll(async () => {
  await Promise.all([stopServers?.()]);
});

/** A transaction of EDUs from b.test to a.test, signed with B's key. */
async function sendAsB(...edus: Array<{ edu_type: string; content: Record<string, unknown> }>): Promise<void> {
  await asB.request('a.test', 'PUT', `/_matrix/federation/v1/send/hostile-${txn++}`, { origin: 'b.test', origin_server_ts: Date.now(), pdus: [], edus });
}

const toDevice = (sender: string, messageId: string, messages: Record<string, unknown>) => ({
  edu_type: 'm.direct_to_device',
  content: { sender, type: 'm.room_key_request', message_id: messageId, messages },
});

describe('m.direct_to_device', () => {
  it("delivers bob's send-to-device message from B to alice's device on A", async () => {
    const s = await sync(alice);
    await bob.http.ok('PUT', '/_matrix/client/v3/sendToDevice/m.room_key_request/td1', {
      body: { messages: { [alice.userId]: { [alice.deviceId]: { action: 'request_cancellation', request_id: 'r1', requesting_device_id: bob.deviceId } } } },
    });
    const got = await waitFor(async () => {
      const next = await sync(alice, s.next_batch);
      return (next.to_device?.events.length ?? 0) > 0 && next.to_device!.events;
    }, 10_000, 'the message at alice');
    expect(got).toEqual([{ sender: bob.userId, type: 'm.room_key_request', content: { action: 'request_cancellation', request_id: 'r1', requesting_device_id: bob.deviceId } }]);
  });

  it("delivers '*' to every device, once per message_id, and ignores another server's sender and recipients", async () => {
    const [s1, s2] = await Promise.all([sync(alice), sync(aliceLaptop)]);
    const id = randomBytes(8).toString('hex');
    await sendAsB(toDevice(bob.userId, id, { [alice.userId]: { '*': { n: 1 } } }));
    await sendAsB(toDevice(bob.userId, id, { [alice.userId]: { '*': { n: 1 } } })); // the same message, another transaction
    await sendAsB(toDevice('@eve:c.test', `${id}-eve`, { [alice.userId]: { '*': { n: 2 } } })); // not b.test's user
    await sendAsB(toDevice(bob.userId, `${id}-elsewhere`, { '@carol:c.test': { '*': { n: 3 } }, [alice.userId]: { NOSUCHDEVICE: { n: 4 } } }));
    for (const [user, since] of [[alice, s1.next_batch], [aliceLaptop, s2.next_batch]] as const) {
      const events = (await sync(user, since)).to_device?.events ?? [];
      expect(events).toEqual([{ sender: bob.userId, type: 'm.room_key_request', content: { n: 1 } }]);
    }
  });
});

describe('m.device_list_update and m.signing_key_update', () => {
  const changed = async (since: string) => (await sync(alice, since)).device_lists?.changed ?? [];

  it("shows bob in alice's device_lists.changed when he uploads keys on B", async () => {
    const s = await sync(alice);
    await bob.http.ok('POST', '/_matrix/client/v3/keys/upload', { body: { device_keys: deviceKeys(bob) } });
    await waitFor(async () => (await changed(s.next_batch)).includes(bob.userId), 10_000, 'bob changed at alice');
  });

  it('shows bob again for new cross-signing keys', async () => {
    const s = await sync(alice);
    const cs = crossSigningKeys(bob.userId);
    await bob.http.ok('POST', '/_matrix/client/v3/keys/device_signing/upload', { body: { master_key: cs.master_key, self_signing_key: cs.self_signing_key } });
    await waitFor(async () => (await changed(s.next_batch)).includes(bob.userId), 10_000, 'bob changed at alice');
  });

  it("ignores updates about another server's users and about users who share no room here", async () => {
    const s = await sync(alice);
    const update = (userId: string) => ({ edu_type: 'm.device_list_update', content: { user_id: userId, device_id: 'X', stream_id: 1, deleted: true } });
    await sendAsB(update(alice.userId), update('@dan:b.test'), { edu_type: 'm.signing_key_update', content: { user_id: alice.userId } });
    expect(await changed(s.next_batch)).toEqual([]);
  });

  it("names in user/devices the stream_id of the user's last device change, not of anything else", async () => {
    const devices = () => asB.request('a.test', 'GET', `/_matrix/federation/v1/user/devices/${enc(alice.userId)}`) as Promise<{ stream_id: number }>;
    const before = (await devices()).stream_id;
    await alice.http.ok('POST', '/_matrix/client/v3/keys/upload', { body: { device_keys: deviceKeys(alice) } });
    const after = (await devices()).stream_id;
    expect(after).toBeGreaterThan(before);
    await alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/s1`, { body: { msgtype: 'm.text', body: 'not a device change' } });
    expect((await devices()).stream_id).toBe(after);
  });
});

describe('m.presence', () => {
  it("shows bob's presence, set on B, in alice's /sync and presence on A", async () => {
    const s = await sync(alice);
    await bob.http.ok('PUT', `/_matrix/client/v3/presence/${enc(bob.userId)}/status`, { body: { presence: 'unavailable', status_msg: 'lunch' } });
    const seen = await waitFor(async () => {
      const next = (await sync(alice, s.next_batch)) as FullSync;
      return next.presence?.events.find((e) => e.sender === bob.userId);
    }, 10_000, "bob's presence at alice");
    expect(seen.content).toMatchObject({ user_id: bob.userId, presence: 'unavailable', status_msg: 'lunch' });
    expect(await alice.http.ok('GET', `/_matrix/client/v3/presence/${enc(bob.userId)}/status`)).toMatchObject({ presence: 'unavailable', status_msg: 'lunch' });
  });

  it("ignores presence of another server's users and of users who share no room here", async () => {
    await alice.http.ok('PUT', `/_matrix/client/v3/presence/${enc(alice.userId)}/status`, { body: { presence: 'online', status_msg: 'here' } });
    await sendAsB({
      edu_type: 'm.presence',
      content: { push: [{ user_id: alice.userId, presence: 'offline', last_active_ago: 5 }, { user_id: '@dan:b.test', presence: 'online', last_active_ago: 5 }] },
    });
    expect(await alice.http.ok('GET', `/_matrix/client/v3/presence/${enc(alice.userId)}/status`)).toMatchObject({ presence: 'online', status_msg: 'here' });
    expect((await alice.http.request('GET', `/_matrix/client/v3/presence/${enc('@dan:b.test')}/status`)).status).toBe(404);
  });
});
