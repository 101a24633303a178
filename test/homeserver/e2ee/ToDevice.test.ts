// Send-to-device messages: idempotent per device, event type and txnId; handed out until the device
// acknowledges them with its next since token, then deleted; `*` reaches every device; at most 100 per
// sync; kept across a restart; nothing kept for devices that do not exist or were deleted.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loginUser, MatrixHttpClient, registerUser, startTestHomeserver, type TestHomeserver, type TestUser } from '../../harness/index.js';
import { conforms, sync } from './e2eeFixtures.js';

const types = (s: { to_device?: { events: Array<{ type: string }> } }): string[] => (s.to_device?.events ?? []).map((e) => e.type);
const contents = (s: { to_device?: { events: Array<{ content: Record<string, unknown> }> } }): unknown[] =>
  (s.to_device?.events ?? []).map((e) => e.content);

describe('send-to-device', () => {
  let hs: TestHomeserver;
  let alice: TestUser;
  let bob: TestUser;

  const send = (from: TestUser, type: string, txnId: string, messages: Record<string, Record<string, unknown>>) =>
    from.http.put(`/sendToDevice/${type}/${txnId}`, { messages });

  beforeAll(async () => {
    hs = await startTestHomeserver();
    alice = await registerUser(hs.url, 'alice');
    bob = await registerUser(hs.url, 'bob');
  });
  afterAll(() => hs?.stop());

  it('sends once per device, event type and txnId: a retry is a no-op, another event type is a new message', async () => {
    const base = await sync(bob);
    const res = await send(alice, 'org.example.a', 'same', { [bob.userId]: { [bob.deviceId]: { n: 1 } } });
    await conforms('client-server/to_device.yaml', '/sendToDevice/{eventType}/{txnId}', 'put', res);
    await send(alice, 'org.example.a', 'same', { [bob.userId]: { [bob.deviceId]: { n: 1 } } });
    await send(alice, 'org.example.b', 'same', { [bob.userId]: { [bob.deviceId]: { n: 2 } } });
    // The same txnId from another device of the sender is that device's own request.
    const alicePhone = await loginUser(hs.url, 'alice');
    await send(alicePhone, 'org.example.a', 'same', { [bob.userId]: { [bob.deviceId]: { n: 3 } } });
    const s = await sync(bob, base.next_batch);
    expect(types(s)).toEqual(['org.example.a', 'org.example.b', 'org.example.a']);
    expect(s.to_device?.events[0]).toEqual({ sender: alice.userId, type: 'org.example.a', content: { n: 1 } });
  });

  it('hands a message out again until the next since token acknowledges it, then never again', async () => {
    const base = await sync(bob);
    await send(alice, 'org.example.ack', 't-ack', { [bob.userId]: { [bob.deviceId]: { hello: true } } });
    const first = await sync(bob, base.next_batch);
    expect(types(first)).toEqual(['org.example.ack']);
    // The response was lost: the client retries with the same since token and gets it again.
    expect(types(await sync(bob, base.next_batch))).toEqual(['org.example.ack']);
    const acked = await sync(bob, first.next_batch);
    expect(types(acked)).toEqual([]);
    expect(types(await sync(bob, base.next_batch))).toEqual([]);
  });

  it('reaches every device of a user with *, and only devices that exist', async () => {
    const tablet = await loginUser(hs.url, 'bob');
    const [b, t] = await Promise.all([sync(bob), sync(tablet)]);
    await send(alice, 'org.example.all', 't-all', { [bob.userId]: { '*': { all: true } }, '@nobody:localhost': { '*': { x: 1 } } });
    await send(alice, 'org.example.ghost', 't-ghost', { [bob.userId]: { LATERDEVICE: { early: true } } });
    expect(types(await sync(bob, b.next_batch))).toEqual(['org.example.all']);
    expect(types(await sync(tablet, t.next_batch))).toEqual(['org.example.all']);
    // A device created afterwards with that ID did not exist when the message was sent: nothing waits for it.
    const later = await new MatrixHttpClient(hs.url).ok<{ access_token: string; device_id: string; user_id: string }>('POST', '/login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'bob' }, password: bob.password, device_id: 'LATERDEVICE' },
    });
    const laterUser = { ...bob, accessToken: later.access_token, deviceId: later.device_id, http: new MatrixHttpClient(hs.url, later.access_token) };
    expect(types(await sync(laterUser))).toEqual([]);
  });

  it('hands out at most 100 messages per sync and the rest on the next ones, in order', async () => {
    const reader = await loginUser(hs.url, 'bob');
    const base = await sync(reader);
    for (let i = 0; i < 150; i++) await send(alice, 'org.example.many', `many-${i}`, { [bob.userId]: { [reader.deviceId]: { i } } });
    const first = await sync(reader, base.next_batch);
    expect(contents(first)).toEqual(Array.from({ length: 100 }, (_, i) => ({ i })));
    const second = await sync(reader, first.next_batch);
    expect(contents(second)).toEqual(Array.from({ length: 50 }, (_, i) => ({ i: i + 100 })));
    expect(types(await sync(reader, second.next_batch))).toEqual([]);
  });

  it('keeps nothing for a deleted device', async () => {
    const doomed = await loginUser(hs.url, 'bob');
    await send(alice, 'org.example.doomed', 't-doomed', { [bob.userId]: { [doomed.deviceId]: { x: 1 } } });
    await bob.http.ok('POST', '/delete_devices', {
      body: { devices: [doomed.deviceId], auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: bob.userId }, password: bob.password } },
    });
    const again = await new MatrixHttpClient(hs.url).ok<{ access_token: string }>('POST', '/login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'bob' }, password: bob.password, device_id: doomed.deviceId },
    });
    expect(types(await sync({ ...bob, http: new MatrixHttpClient(hs.url, again.access_token) }))).toEqual([]);
  });
});

describe('send-to-device across a restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-todevice-'));
  const start = () => startTestHomeserver({ storage: { kind: 'sqlite', path: join(dir, 'hs.sqlite') }, mediaDir: join(dir, 'media') });
  let hs: TestHomeserver | null = null;
  afterAll(async () => {
    await hs?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers a message sent before the restart, once', async () => {
    hs = await start();
    const alice = await registerUser(hs.url, 'alice');
    const bob = await registerUser(hs.url, 'bob');
    const base = await sync(bob);
    await alice.http.ok('PUT', '/sendToDevice/org.example.durable/d1', { body: { messages: { [bob.userId]: { [bob.deviceId]: { kept: true } } } } });
    await hs.stop();
    hs = await start();
    // The new server listens on another port; the accounts and tokens are the same.
    const bobAgain = { ...bob, http: new MatrixHttpClient(hs.url, bob.accessToken) };
    const after = await sync(bobAgain, base.next_batch);
    expect(contents(after)).toEqual([{ kept: true }]);
    // The retry of the same request after the restart sends nothing more.
    await new MatrixHttpClient(hs.url, alice.accessToken).ok('PUT', '/sendToDevice/org.example.durable/d1', {
      body: { messages: { [bob.userId]: { [bob.deviceId]: { kept: true } } } },
    });
    expect(contents(await sync(bobAgain, after.next_batch))).toEqual([]);
  });

  it('keeps stream positions moving on after acknowledged messages were deleted, so a sync token from before the restart misses nothing', async () => {
    await hs?.stop();
    hs = await start();
    const alice = await loginUser(hs.url, 'alice');
    const bob = await loginUser(hs.url, 'bob');
    const roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } })).room_id;
    await bob.http.ok('POST', `/join/${encodeURIComponent(roomId)}`, { body: {} });
    const base = await sync(bob);
    // The newest positions of the stream are to-device messages, which the next sync acknowledges and deletes.
    for (let i = 0; i < 5; i++) await alice.http.ok('PUT', `/sendToDevice/org.example.top/top${i}`, { body: { messages: { [bob.userId]: { [bob.deviceId]: { i } } } } });
    const got = await sync(bob, base.next_batch);
    const acked = await sync(bob, got.next_batch);
    await hs.stop();
    hs = await start();
    const aliceAgain = new MatrixHttpClient(hs.url, alice.accessToken);
    await aliceAgain.ok('PUT', `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/after-restart`, { body: { msgtype: 'm.text', body: 'after the restart' } });
    const next = await new MatrixHttpClient(hs.url, bob.accessToken).ok<{ rooms: { join: Record<string, { timeline: { events: Array<{ content: { body?: string } }> } }> } }>(
      'GET',
      '/sync',
      { query: { since: acked.next_batch, timeout: 0 } },
    );
    expect(next.rooms.join[roomId]?.timeline.events.map((e) => e.content.body)).toEqual(['after the restart']);
  });
});
