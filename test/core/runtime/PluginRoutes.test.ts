// Bridges' HTTP routes on the host: mounted under /_patchbay/bridges/<name> (and a claimed prefix), behind
// the bridge's own auth hook, answering plugin errors as their kind says; a webhook reaches the room
// through the outbox. Real pipeline HTTP server, embedded homeserver, Redis.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BridgeRoutes } from '../../../core/plugin/BridgeRoutes.js';
import {
  PermanentError,
  RetryLaterError,
  type BridgeContext,
  type BridgePlugin,
} from '../../../core/plugin-api/index.js';
import { enc, registerUser, startBridgeStack, waitFor, type BridgeStack, type TestUser } from '../../harness/index.js';
import { loadedPlugin } from './RecordingPlugin.js';

const SECRET = 's3cret';

class WebhookPlugin implements BridgePlugin {
  readonly descriptor = { protocol: 'hook', ghostPrefix: 'hook_', aliasPrefix: 'hook_', httpPrefixes: ['/_matrix/provision/v1'] };
  ctx: BridgeContext | null = null;
  roomId = '';

  async start(ctx: BridgeContext): Promise<void> {
    this.ctx = ctx;
    ctx.http.authorize((req) => req.headers.authorization === `Bearer ${SECRET}`);
    ctx.http.route('POST', '/inbound/:sender', async (req) => {
      const { id, text } = req.json() as { id: string; text: string };
      if (text.startsWith('+1900')) throw new PermanentError(`number not allowed: ${text}`);
      if (text === 'busy') throw new RetryLaterError('the bridge is busy', { delayMs: 2_500 });
      if (text === 'boom') throw new Error('a bug');
      await ctx.outbox.enqueue({ remoteId: id, roomId: this.roomId, senderRemoteId: req.params.sender!, type: 'm.room.message', content: { msgtype: 'm.text', body: text } });
      return { status: 202, json: { queued: id } };
    });
    ctx.http.route('POST', '/form', async (req) => ({ json: req.form() }));
    ctx.http.route('GET', '/status', async (req) => ({ text: `ok ${req.query.probe ?? ''}` }), { auth: false });
    ctx.http.route('GET', '/whoami', async () => ({ json: { bridge: 'hook' } }), { prefix: '/_matrix/provision/v1' });
  }
  async stop(): Promise<void> {}
  async onMatrixEvent(): Promise<void> {}
}

describe('bridge HTTP routes on the host (pipeline HTTP server, embedded homeserver, Redis)', () => {
  const plugin = new WebhookPlugin();
  let stack: BridgeStack;
  let alice: TestUser;
  let base = '';

  const call = (method: string, path: string, init: { body?: string; type?: string; auth?: boolean } = {}) =>
    fetch(`${stack.pipeline!.url}${path}`, {
      method,
      headers: { ...(init.auth === false ? {} : { authorization: `Bearer ${SECRET}` }), ...(init.type ? { 'content-type': init.type } : {}) },
      ...(init.body !== undefined ? { body: init.body } : {}),
    });

  beforeAll(async () => {
    stack = await startBridgeStack({ appserviceId: 'plugin-routes', bridges: async () => [loadedPlugin('hook', plugin)], settings: { max_body_bytes: 2048 } });
    alice = await registerUser(stack.hs.url, 'alice');
    plugin.roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } })).room_id;
    base = plugin.ctx!.http.basePath;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('mounts the routes under the bridge\'s path and tells the plugin its public URL', () => {
    expect(base).toBe('/_patchbay/bridges/hook');
    expect(plugin.ctx!.http.baseUrl).toBe(`${stack.pipeline!.url}/_patchbay/bridges/hook`);
  });

  it('posts a webhook into the room through the outbox, as the sender\'s ghost', async () => {
    const res = await call('POST', `${base}/inbound/+15550100`, { body: JSON.stringify({ id: 'sms-1', text: 'hello from the carrier' }), type: 'application/json' });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ queued: 'sms-1' });
    const message = await waitFor(async () => {
      const chunk = (await alice.http.ok<{ chunk: Array<{ sender: string; type: string; content: Record<string, unknown> }> }>('GET', `/rooms/${enc(plugin.roomId)}/messages`, { query: { dir: 'b', limit: 20 } })).chunk;
      return chunk.find((e) => e.type === 'm.room.message');
    }, 20_000, 'the bridged message');
    expect(message).toMatchObject({ sender: '@hook_=2b15550100:localhost', content: { body: 'hello from the carrier' } });
  });

  it('runs the bridge\'s auth hook first, except for routes that opt out', async () => {
    const refused = await call('POST', `${base}/inbound/x`, { body: '{}', auth: false });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ errcode: 'M_FORBIDDEN' });
    const open = await call('GET', `${base}/status?probe=1`, { auth: false });
    expect(open.status).toBe(200);
    expect(open.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await open.text()).toBe('ok 1');
  });

  it('answers plugin errors as their kind says, and a body that is not JSON with 400', async () => {
    const permanent = await call('POST', `${base}/inbound/x`, { body: JSON.stringify({ id: '2', text: '+19005550100' }) });
    expect(permanent.status).toBe(400);
    expect(await permanent.json()).toEqual({ errcode: 'M_INVALID_PARAM', error: 'number not allowed: +19005550100' });
    const later = await call('POST', `${base}/inbound/x`, { body: JSON.stringify({ id: '3', text: 'busy' }) });
    expect(later.status).toBe(503);
    expect(later.headers.get('retry-after')).toBe('3');
    expect(await later.json()).toMatchObject({ error: 'the bridge is busy', retry_after_ms: 2_500 });
    const bug = await call('POST', `${base}/inbound/x`, { body: JSON.stringify({ id: '4', text: 'boom' }) });
    expect(bug.status).toBe(500);
    expect(await bug.json()).toEqual({ errcode: 'M_UNKNOWN', error: 'Internal error' });
    const notJson = await call('POST', `${base}/inbound/x`, { body: 'text=1' });
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ errcode: 'M_NOT_JSON' });
  });

  it('reads form posts, refuses bodies over host.max_body_bytes, and leaves other paths to the host', async () => {
    const form = await call('POST', `${base}/form`, { body: 'From=%2B15550100&Body=hi&Body=again', type: 'application/x-www-form-urlencoded' });
    expect(await form.json()).toEqual({ From: '+15550100', Body: 'hi' });
    const large = await call('POST', `${base}/form`, { body: 'x'.repeat(4096) });
    expect(large.status).toBe(413);
    const unknown = await call('GET', `${base}/nothing-here`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ errcode: 'M_UNRECOGNIZED' });
  });

  it('serves routes under a prefix the bridge claimed', async () => {
    const res = await call('GET', '/_matrix/provision/v1/whoami');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ bridge: 'hook' });
  });

  it('counts the requests per bridge, route and status', async () => {
    const values = (await stack.metrics.getSingleMetric('patchbay_plugin_http_requests_total')?.get())?.values ?? [];
    expect(values.find((v) => v.labels.route === 'POST /_patchbay/bridges/hook/inbound/:sender' && v.labels.status === '403')?.value).toBe(1);
  });

  it('takes routes only during start, and refuses to start routes that need an auth hook without one', () => {
    expect(() => plugin.ctx!.http.route('GET', '/late', async () => ({}))).toThrow(/register routes in start\(\)/);
    const routes = new BridgeRoutes('nohook', [], null);
    routes.route('POST', '/in', async () => ({}));
    expect(() => routes.seal()).toThrow(
      'bridges.nohook: the route POST /_patchbay/bridges/nohook/in needs an auth hook, but none was set. Fix: call ctx.http.authorize(request => ...) in start(), or register the route with { auth: false }',
    );
    expect(() => new BridgeRoutes('x', [], null).route('GET', '/a', async () => ({}), { prefix: '/_matrix/provision/v1' })).toThrow(/not one of the descriptor's httpPrefixes/);
  });
});
