// Who gets the status page on the host's port, and what its JSON and actions do, with real Redis: open on
// loopback, off beyond loopback without host.status_token, behind the token when one is set; the actions
// take JSON bodies only and run the same replay and drop as the CLI.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createEventPipeline, RecentErrors, type EventPipeline } from '../../../core/host/index.js';
import { isLoopbackBind } from '../../../core/status/StatusAccess.js';
import { ManagedRedis } from '../../../core/redis/ManagedRedis.js';
import { waitFor } from '../../../testkit/waitFor.js';
import { HS_TOKEN, quietLogger, RecordingDispatcher, roomEvent } from './pipelineTestKit.js';

describe('the status page on the host', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-status-'));
  const redis = new ManagedRedis({ dir, appendOnly: false });
  const running = new Set<EventPipeline>();
  let nextId = 0;

  beforeAll(async () => {
    await redis.start();
  });

  afterAll(async () => {
    for (const p of running) await p.stop({ force: true });
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(bind: string, token: string | null, dispatcher = new RecordingDispatcher(), recentErrors: RecentErrors | null = null): Promise<EventPipeline> {
    const pipeline = createEventPipeline({
      registration: { id: `status${nextId++}`, hs_token: HS_TOKEN },
      redis: redis.connection,
      host: { partitions: 2, status_token: token },
      role: 'both',
      dispatcher,
      logger: quietLogger(),
      metrics: new Registry(),
      http: { bind, port: 0 },
      status: { homeserverUrl: () => 'http://127.0.0.1:1', recentErrors },
    });
    await pipeline.start();
    running.add(pipeline);
    return pipeline;
  }

  const url = (p: EventPipeline): string => p.url!.replace('0.0.0.0', '127.0.0.1');

  it('knows loopback binds', () => {
    expect(['127.0.0.1', '127.0.1.1', '::1', 'localhost'].map(isLoopbackBind)).toEqual([true, true, true, true]);
    expect(['0.0.0.0', '::', '10.0.0.5', 'example.org'].map(isLoopbackBind)).toEqual([false, false, false, false]);
  });

  it('is open on loopback: the page, then its JSON (an unreachable homeserver said so, recent errors)', async () => {
    const errors = new RecentErrors();
    errors.write(JSON.stringify({ level: 50, time: 1, msg: 'event dead-lettered', err: { message: 'boom' }, room_id: '!r:test', noise: 'x' }));
    errors.write(JSON.stringify({ level: 30, time: 2, msg: 'info is not an error' }));
    const p = await start('127.0.0.1', null, undefined, errors);
    const page = await fetch(`${url(p)}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<title>Patchbay status</title>');
    const res = await fetch(`${url(p)}/_patchbay/status`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      homeserver: { url: 'http://127.0.0.1:1', reachable: false },
      health: { status: 'ok', redis: { reachable: true }, queues: { dead_letters: 0 } },
      dead_letters: { count: 0, newest: [] },
      recent_errors: [{ time: 1, level: 'error', msg: 'event dead-lettered', error: 'boom', context: { room_id: '!r:test' } }],
    });
  });

  it('is off beyond loopback without a token, and says which key to set', async () => {
    const p = await start('0.0.0.0', null);
    const page = await fetch(`${url(p)}/`);
    expect(page.status).toBe(403);
    expect(await page.text()).toContain('host.status_token is not set');
    expect((await fetch(`${url(p)}/_patchbay/status`)).status).toBe(403);
    // The rest of the host is unaffected.
    expect((await fetch(`${url(p)}/health`)).status).toBe(200);
  });

  it('asks for the token when one is set; ?token= turns into a cookie; Bearer works too', async () => {
    const token = 'a-long-enough-status-token';
    const p = await start('0.0.0.0', token);
    expect((await fetch(`${url(p)}/`)).status).toBe(401);
    expect((await fetch(`${url(p)}/?token=wrong-token-of-some-length`)).status).toBe(401);
    expect((await fetch(`${url(p)}/_patchbay/status`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const login = await fetch(`${url(p)}/?token=${token}`, { redirect: 'manual' });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/');
    const cookie = login.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^patchbay_status=a-long-enough-status-token; HttpOnly; SameSite=Strict; Path=\/$/);
    expect((await fetch(`${url(p)}/`, { headers: { cookie: cookie.split(';')[0]! } })).status).toBe(200);
    expect((await fetch(`${url(p)}/_patchbay/status`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it('replays and drops dead letters with JSON bodies only, as the CLI does', async () => {
    const dispatcher = new RecordingDispatcher();
    const p = await start('127.0.0.1', null, dispatcher);
    for (const id of ['$one', '$two', '$three']) {
      await p.deadLetters.add({ event: roomEvent(id, '!r:test'), error: 'down', attempts: 1, time: Date.now(), partition: 0 });
    }
    const post = (action: string, body: string, type = 'application/json'): Promise<Response> =>
      fetch(`${url(p)}/_patchbay/status/dead-letters/${action}`, { method: 'POST', headers: { 'content-type': type }, body });
    // A form post (what another site could make a browser send) is refused.
    expect((await post('drop', 'ids=%24one', 'application/x-www-form-urlencoded')).status).toBe(415);
    expect((await post('drop', '{"ids":"$one"}')).status).toBe(400);
    expect((await post('explode', '{"ids":["$one"]}')).status).toBe(400);
    expect(await (await post('drop', '{"ids":["$one","$nope"]}')).json()).toEqual({ dropped: ['$one'], missing: ['$nope'] });
    expect(await (await post('replay', '{"all":true}')).json()).toEqual({ replayed: ['$two', '$three'], missing: [] });
    await waitFor(() => dispatcher.count('$three') > 0, 20_000, '$three');
    expect(dispatcher.idsIn('!r:test')).toEqual(['$two', '$three']);
    expect(await p.deadLetters.count()).toBe(0);
  });
});
