// Push as a phone gets it: matrix-js-sdk sets an HTTP pusher and push rules, people write, and a push
// gateway this suite runs receives exactly the notifications the rules call for, every request checked
// against the spec's push-gateway schema. Muted rooms stay silent, a pushkey the gateway rejects is
// removed, a gateway that is down gets the notification once it is back. GET /notifications lists them.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as sdk from 'matrix-js-sdk';
import {
  enc,
  loginUser,
  registerUser,
  SpecValidator,
  startTestHomeserver,
  waitFor,
  type JsonObject,
  type TestHomeserver,
  type TestUser,
} from '../../harness/index.js';
import { TestPushGateway, type PushNotification } from '../../harness/TestPushGateway.js';

const spec = SpecValidator.load();

interface NotificationsBody {
  notifications: Array<{ actions: unknown[]; event: { event_id: string; content: JsonObject }; read: boolean; room_id: string; ts: number }>;
  next_token?: string;
}

describe('push to an HTTP push gateway', () => {
  let hs: TestHomeserver;
  let gateway: TestPushGateway;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let bobSdk: sdk.MatrixClient;
  let roomId = '';
  let txn = 0;

  const sdkFor = (u: TestUser): sdk.MatrixClient => sdk.createClient({ baseUrl: hs.url, userId: u.userId, accessToken: u.accessToken, deviceId: u.deviceId });
  const pusher = (pushkey: string, data: sdk.IPusher['data']): sdk.IPusherRequest => ({
    kind: 'http',
    app_id: 'org.example.phone',
    app_display_name: 'Phone',
    device_display_name: 'A phone',
    pushkey,
    lang: 'en',
    data,
    append: true,
  });
  async function send(user: TestUser, content: JsonObject, type = 'm.room.message', room = roomId): Promise<string> {
    txn += 1;
    return (await user.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(room)}/send/${type}/p${txn}`, { body: content })).event_id;
  }
  const text = (body: string): JsonObject => ({ msgtype: 'm.text', body });
  /** Sends a last message and waits for it: everything sent before it to this pushkey has had its turn. */
  async function settle(pushkey: string, room = roomId): Promise<PushNotification[]> {
    const last = await send(alice, text(`sentinel ${txn}`), 'm.room.message', room);
    await waitFor(() => gateway.forKey(pushkey).some((n) => n.event_id === last), 20_000, `the sentinel at ${pushkey}`);
    return gateway.forKey(pushkey).filter((n) => n.event_id !== last);
  }

  beforeAll(async () => {
    gateway = await TestPushGateway.start(spec);
    hs = await startTestHomeserver({ push: { allowPrivateGateways: true, retry: { initialMs: 50, maxMs: 400 } } });
    alice = await registerUser(hs.url, 'alice');
    bob = await registerUser(hs.url, 'bob');
    carol = await registerUser(hs.url, 'carol');
    await alice.http.ok('PUT', `/profile/${enc(alice.userId)}/displayname`, { body: { displayname: 'Alice' } });
    roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat', name: 'Lobby' } })).room_id;
    await bob.http.ok('POST', `/rooms/${enc(roomId)}/join`, { body: {} });
    await carol.http.ok('POST', `/rooms/${enc(roomId)}/join`, { body: {} });
    bobSdk = sdkFor(bob);
  });
  afterEach(() => {
    expect(gateway.schemaErrors).toEqual([]);
  });
  afterAll(async () => {
    await hs?.stop();
    await gateway?.stop();
  });

  it('posts exactly the notifications the default rules call for, with tweaks and counts, and lists them in GET /notifications', async () => {
    await bobSdk.setPusher(pusher('bob-phone', { url: gateway.url }));
    const listed = await bobSdk.getPushers();
    expect(listed.pushers).toEqual([expect.objectContaining({ pushkey: 'bob-phone', kind: 'http', app_id: 'org.example.phone', data: { url: gateway.url } })]);

    const hello = await send(alice, text('hello everyone'));
    await send(alice, { msgtype: 'm.notice', body: 'bob: a bot notice' });
    await send(alice, { 'm.relates_to': { rel_type: 'm.annotation', event_id: hello, key: '👍' } }, 'm.reaction');
    await send(alice, { msgtype: 'm.text', body: '* hello all', 'm.new_content': text('hello all'), 'm.relates_to': { rel_type: 'm.replace', event_id: hello } });
    const mention = await send(alice, text('bob: your call is waiting'));
    const got = await settle('bob-phone');
    expect(got.map((n) => n.event_id)).toEqual([hello, mention]);
    const [first, second] = got as [PushNotification, PushNotification];
    expect(first).toMatchObject({
      room_id: roomId,
      type: 'm.room.message',
      sender: alice.userId,
      sender_display_name: 'Alice',
      room_name: 'Lobby',
      prio: 'low',
      content: { body: 'hello everyone' },
      devices: [{ app_id: 'org.example.phone', pushkey: 'bob-phone', data: {}, tweaks: {} }],
    });
    expect(second).toMatchObject({ prio: 'high', devices: [{ tweaks: { sound: 'default', highlight: true } }] });
    // The badge: bob's unread notifications when it was sent (the sentinel may already count).
    expect(first.counts?.unread).toBeGreaterThanOrEqual(1);
    expect(second.counts?.unread).toBeGreaterThanOrEqual(2);
    // Nothing for the sender's own messages, and nothing for other users' keys.
    expect(gateway.received.every((n) => n.devices.every((d) => d.pushkey === 'bob-phone'))).toBe(true);

    const all = await bob.http.ok<NotificationsBody>('GET', '/notifications');
    if (spec) expect(await spec.validateResponse('client-server/notifications.yaml', '/notifications', 'get', 200, all)).toEqual([]);
    expect(all.notifications.map((n) => n.event.event_id).slice(1)).toEqual([mention, hello]);
    const highlights = await bob.http.ok<NotificationsBody>('GET', '/notifications', { query: { only: 'highlight' } });
    expect(highlights.notifications.map((n) => n.event.event_id)).toEqual([mention]);
    const page1 = await bob.http.ok<NotificationsBody>('GET', '/notifications', { query: { limit: '2' } });
    const page2 = await bob.http.ok<NotificationsBody>('GET', '/notifications', { query: { limit: '2', from: page1.next_token! } });
    expect(page2.notifications.map((n) => n.event.event_id)).toEqual([hello]);
    expect(page2.next_token).toBeUndefined();
    // A read receipt marks them read.
    await bob.http.ok('POST', `/rooms/${enc(roomId)}/receipt/m.read/${enc(mention)}`, { body: {} });
    const afterRead = await bob.http.ok<NotificationsBody>('GET', '/notifications', { query: { only: 'highlight' } });
    expect(afterRead.notifications[0]!.read).toBe(true);
  });

  it('sends nothing for a room muted by an override rule or when the master rule is on', async () => {
    const quiet = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } })).room_id;
    await bob.http.ok('POST', `/rooms/${enc(quiet)}/join`, { body: {} });
    await carol.http.ok('POST', `/rooms/${enc(quiet)}/join`, { body: {} });
    await bobSdk.addPushRule('global', sdk.PushRuleKind.Override, quiet, {
      actions: [],
      conditions: [{ kind: sdk.ConditionKind.EventMatch, key: 'room_id', pattern: quiet }],
    });
    const carolSdk = sdkFor(carol);
    await carolSdk.setPusher(pusher('carol-phone', { url: gateway.url }));
    await carolSdk.setPushRuleEnabled('global', sdk.PushRuleKind.Override, '.m.rule.master', true);

    const before = gateway.forKey('bob-phone').length;
    const carolsNotifications = async (): Promise<string[]> =>
      (await carol.http.ok<NotificationsBody>('GET', '/notifications')).notifications.map((n) => n.event.event_id);
    const carolBefore = await carolsNotifications();
    await send(alice, text('bob: in the muted room'), 'm.room.message', quiet);
    await send(alice, text('carol: are you there?'));
    const got = (await settle('bob-phone')).slice(before);
    expect(got.map((n) => n.content?.['body'])).toEqual(['carol: are you there?']);
    expect(await carolsNotifications()).toEqual(carolBefore);
    expect(gateway.forKey('carol-phone')).toEqual([]);
  });

  it('removes a pushkey the gateway rejects', async () => {
    gateway.rejectedKeys.add('bob-old-phone');
    await bobSdk.setPusher(pusher('bob-old-phone', { url: gateway.url, format: 'event_id_only' }));
    const ev = await send(alice, text('anyone?'));
    await waitFor(async () => (await bobSdk.getPushers()).pushers.every((p) => p.pushkey !== 'bob-old-phone'), 20_000, 'the rejected pusher to go');
    // It was posted once, without the event's content (format event_id_only), and never again.
    const posted = gateway.forKey('bob-old-phone');
    expect(posted).toEqual([{ event_id: ev, room_id: roomId, prio: 'low', counts: expect.any(Object), devices: [expect.objectContaining({ pushkey: 'bob-old-phone', data: { format: 'event_id_only' } })] }]);
    await settle('bob-phone');
    expect(gateway.forKey('bob-old-phone')).toHaveLength(1);
  });

  it('retries while the gateway is down and delivers once it is back, in order', async () => {
    const before = gateway.forKey('bob-phone').length;
    gateway.down = true;
    const attempts = gateway.attempts;
    await send(alice, text('first while down'));
    await send(alice, text('second while down'));
    await waitFor(() => gateway.attempts >= attempts + 3, 20_000, 'retries');
    expect(gateway.forKey('bob-phone')).toHaveLength(before);
    gateway.down = false;
    const got = (await settle('bob-phone')).slice(before);
    expect(got.map((n) => n.content?.['body'])).toEqual(['first while down', 'second while down']);
  });

  it('refuses pushers it cannot deliver, and deletes one with kind null or with its device', async () => {
    const bad = async (body: JsonObject): Promise<string | undefined> => (await bob.http.request('POST', '/pushers/set', { body })).body['errcode'] as string | undefined;
    const base = { app_id: 'org.example.x', pushkey: 'k', app_display_name: 'X', device_display_name: 'X', lang: 'en' };
    expect(await bad({ ...base, kind: 'http', data: {} })).toBe('M_MISSING_PARAM');
    expect(await bad({ ...base, kind: 'http', data: { url: 'http://gw.example/notify' } })).toBe('M_INVALID_PARAM');
    expect(await bad({ ...base, kind: 'email', data: {} })).toBe('M_INVALID_PARAM');
    expect(await bad({ ...base, pushkey: 'x'.repeat(513), kind: 'http', data: { url: gateway.url } })).toBe('M_INVALID_PARAM');
    await bobSdk.setPusher(pusher('temporary', { url: gateway.url }));
    await bob.http.ok('POST', '/pushers/set', { body: { ...base, app_id: 'org.example.phone', pushkey: 'temporary', kind: null } });
    expect((await bobSdk.getPushers()).pushers.map((p) => p.pushkey)).toEqual(['bob-phone']);
    // Logging a device out deletes the pushers it set.
    const tablet = await loginUser(hs.url, 'bob');
    await sdkFor(tablet).setPusher(pusher('bob-tablet', { url: gateway.url }));
    expect((await bobSdk.getPushers()).pushers.map((p) => p.pushkey).sort()).toEqual(['bob-phone', 'bob-tablet']);
    await tablet.http.ok('POST', '/logout', { body: {} });
    expect((await bobSdk.getPushers()).pushers.map((p) => p.pushkey)).toEqual(['bob-phone']);
    // Patterns are capped (they are matched against every event).
    const long = await bob.http.request('PUT', '/pushrules/global/content/long', { body: { pattern: 'a'.repeat(257), actions: ['notify'] } });
    expect(long.body['errcode']).toBe('M_INVALID_PARAM');
  });
});
