import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { ClientServerApi } from '../../../core/matrix/ClientServerApi.js';
import { IntentCaches } from '../../../core/matrix/IntentCaches.js';
import { MatrixApiError } from '../../../core/plugin-api/MatrixApiError.js';
import { MatrixIntent } from '../../../core/matrix/MatrixIntent.js';
import { RuntimeMetrics } from '../../../core/metrics/RuntimeMetrics.js';
import { FakeHomeserver } from './FakeHomeserver.js';

const BOT = '@bridgebot:hs';
const logger = pino({ level: 'silent' });

describe('Client-Server API client and intents (fake homeserver)', () => {
  const hs = new FakeHomeserver('hs', 'as-token', BOT);
  let api: ClientServerApi;
  let caches: IntentCaches;
  const metrics = RuntimeMetrics.for(new Registry());

  const intent = (userId: string): MatrixIntent =>
    new MatrixIntent({ userId, api, caches, isSender: userId === BOT, inviter: () => intent(BOT) });

  beforeAll(async () => {
    await hs.start();
    api = new ClientServerApi({
      homeserverUrl: hs.url,
      asToken: 'as-token',
      logger,
      metrics,
      retry: { maxRetries: 3, initialBackoffMs: 5, maxBackoffMs: 20, maxRateLimitWaitMs: 1_000 },
    });
  });
  afterAll(() => hs.stop());
  beforeEach(() => {
    hs.interceptors = [];
    hs.loseResponses = null;
    hs.requests.length = 0;
    caches = new IntentCaches({ registeredUsers: 100, joinedRooms: 100, profiles: 100 });
  });

  it('asserts the identity with user_id and reports errors as MatrixApiError with errcode and status', async () => {
    const err = await api.joinedRooms('@nobody_x:hs').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MatrixApiError);
    expect(err).toMatchObject({ status: 403, errcode: 'M_FORBIDDEN' });
    expect(hs.requests[0]?.userId).toBe('@nobody_x:hs');
  });

  it('waits retry_after_ms on 429 and then succeeds', async () => {
    let limited = 2;
    hs.interceptors.push((r) => (r.path.endsWith('/joined_rooms') && limited-- > 0 ? { status: 429, body: { errcode: 'M_LIMIT_EXCEEDED', error: 'slow down', retry_after_ms: 30 } } : undefined));
    expect(await api.joinedRooms(BOT)).toEqual([]);
    expect(hs.requests.filter((r) => r.path.endsWith('/joined_rooms'))).toHaveLength(3);
  });

  it('gives up on a 429 asking for longer than the configured wait', async () => {
    hs.interceptors.push(() => ({ status: 429, body: { errcode: 'M_LIMIT_EXCEEDED', error: 'later', retry_after_ms: 60_000 } }));
    const err = await api.joinedRooms(BOT).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 429, retryAfterMs: 60_000 });
    expect(hs.requests).toHaveLength(1);
  });

  it('retries 5xx a bounded number of times, idempotent requests only', async () => {
    hs.interceptors.push(() => ({ status: 502, body: { errcode: 'M_UNKNOWN', error: 'bad gateway' } }));
    await expect(api.joinedRooms(BOT)).rejects.toMatchObject({ status: 502 });
    expect(hs.requests).toHaveLength(4); // 1 + maxRetries
    hs.requests.length = 0;
    await expect(api.createRoom(BOT, {})).rejects.toMatchObject({ status: 502 });
    expect(hs.requests).toHaveLength(1); // POST /createRoom may have happened: not repeated
  });

  it('turns a refused connection into a transient M_CONNECTION_FAILED after its retries', async () => {
    const dead = new ClientServerApi({ homeserverUrl: 'http://127.0.0.1:1', asToken: 'x', logger, retry: { maxRetries: 1, initialBackoffMs: 1, maxBackoffMs: 1 } });
    const err = await dead.joinedRooms(BOT).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 0, errcode: 'M_CONNECTION_FAILED', transient: true });
  });

  it('registers a ghost once (M_USER_IN_USE is fine), joins on first use, and asks joined_rooms instead of re-joining after a restart', async () => {
    hs.addRoom('!r1:hs', [BOT]);
    const ghost = intent('@irc_alice:hs');
    await ghost.sendEvent('!r1:hs', 'm.room.message', { body: 'hi' });
    await ghost.sendEvent('!r1:hs', 'm.room.message', { body: 'again' });
    const paths = hs.requests.map((r) => `${r.method} ${r.path.replace('/_matrix/client/v3', '')}`);
    expect(paths.filter((p) => p === 'POST /register')).toHaveLength(1);
    expect(paths.filter((p) => p.startsWith('POST /join/'))).toHaveLength(1);

    // A "restart": empty caches. The ghost is registered and joined already: no join event is sent.
    caches = new IntentCaches();
    hs.requests.length = 0;
    await intent('@irc_alice:hs').sendEvent('!r1:hs', 'm.room.message', { body: 'after restart' });
    const after = hs.requests.map((r) => `${r.method} ${r.path.replace('/_matrix/client/v3', '')}`);
    expect(after.filter((p) => p.startsWith('POST /join/'))).toHaveLength(0);
    expect(after).toContain('GET /joined_rooms');
    expect(after.filter((p) => p === 'POST /register')).toHaveLength(1); // answered M_USER_IN_USE
  });

  it('rejoins once when the cache says joined but the homeserver says not in room (kicked meanwhile)', async () => {
    hs.addRoom('!r2:hs', [BOT]);
    const ghost = intent('@irc_bob:hs');
    await ghost.ensureJoined('!r2:hs');
    hs.members.get('!r2:hs')!.delete('@irc_bob:hs'); // kicked behind the cache's back
    await ghost.sendEvent('!r2:hs', 'm.room.message', { body: 'still here' });
    expect(hs.sent.at(-1)).toMatchObject({ roomId: '!r2:hs', sender: '@irc_bob:hs' });
    expect(hs.members.get('!r2:hs')!.has('@irc_bob:hs')).toBe(true);
  });

  it('gets a ghost into an invite-only room through the bot', async () => {
    hs.addRoom('!r3:hs', [BOT], { inviteOnly: true });
    const ghost = intent('@irc_carol:hs');
    await ghost.ensureJoined('!r3:hs');
    expect(hs.members.get('!r3:hs')!.has('@irc_carol:hs')).toBe(true);
    expect(hs.requests.some((r) => r.path.endsWith('/invite') && r.userId === BOT)).toBe(true);
  });

  it('writes the profile only when it differs from what the homeserver has', async () => {
    const ghost = intent('@irc_dave:hs');
    await ghost.setProfile({ displayName: 'Dave' });
    await ghost.setProfile({ displayName: 'Dave' });
    const puts = (): number => hs.requests.filter((r) => r.method === 'PUT' && r.path.includes('/profile/')).length;
    expect(puts()).toBe(1);
    // After a restart the cache is empty: the homeserver's profile is read, nothing is rewritten.
    caches = new IntentCaches();
    await intent('@irc_dave:hs').setProfile({ displayName: 'Dave' });
    expect(puts()).toBe(1);
    await intent('@irc_dave:hs').setProfile({ displayName: 'DaveX', avatarUrl: 'mxc://hs/a' });
    expect(puts()).toBe(3);
    expect(hs.profiles.get('@irc_dave:hs')).toEqual({ displayname: 'DaveX', avatar_url: 'mxc://hs/a' });
  });

  it('keeps the txnId across retries so a lost response does not post twice', async () => {
    hs.addRoom('!r4:hs', [BOT]);
    // The homeserver stores the event, then the response is lost (a 502 from a proxy): the retry
    // must reuse the txnId, so the homeserver answers with the first event instead of a second one.
    hs.loseResponses = { matches: (r) => r.path.includes('/send/'), count: 1 };
    const before = hs.sent.length;
    const bot = intent(BOT);
    const eventId = await bot.sendEvent('!r4:hs', 'm.room.message', { body: 'x' });
    expect(hs.loseResponses.count).toBe(0);
    expect(hs.sent.length - before).toBe(1);
    expect(hs.sent.at(-1)?.eventId).toBe(eventId);
    expect(hs.requests.filter((r) => r.path.includes('/send/'))).toHaveLength(2);
  });

  it('downloads media through the authenticated endpoint', async () => {
    hs.media.set('mxc://hs/abc', { bytes: Buffer.from('hello'), type: 'text/plain' });
    const media = await intent(BOT).downloadMedia('mxc://hs/abc');
    expect(Buffer.from(media.bytes).toString()).toBe('hello');
    expect(media.mimetype).toBe('text/plain');
    await expect(intent(BOT).downloadMedia('https://nope')).rejects.toMatchObject({ errcode: 'M_INVALID_PARAM' });
  });
});
