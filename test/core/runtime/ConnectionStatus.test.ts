// ctx.status: what bridges report about their remote connections reaches the host's /health (degraded,
// with one problem line each), its /metrics, and every other process through Redis; a state nobody
// confirms any more turns stale. Real Redis, the real pipeline and embedded homeserver.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { BridgeContext } from '../../../core/plugin-api/index.js';
import { connectionStatusKey, readConnectionStatus, STATUS_HEARTBEAT_MS } from '../../../core/status/ConnectionStatusBoard.js';
import { startBridgeStack, waitFor, type BridgeStack } from '../../harness/index.js';
import { loadedPlugin, RecordingPlugin } from './RecordingPlugin.js';

interface Health {
  status: string;
  problems: string[];
  bridges: Array<{ bridge: string; connections: Array<{ connection: string; state: string; reason?: string; since: number; stale: boolean }> }>;
}

describe('bridge connection status (ctx.status)', () => {
  const plugin = new RecordingPlugin({ protocol: 'delta', ghostPrefix: 'delta_', aliasPrefix: 'delta_' });
  let stack: BridgeStack;
  let ctx: BridgeContext;
  let redis: Redis;
  const health = async (): Promise<{ code: number; body: Health }> => {
    const res = await fetch(`${stack.pipeline!.url}/health`);
    return { code: res.status, body: (await res.json()) as Health };
  };
  const key = (): string => connectionStatusKey(stack.host.keys.root);

  beforeAll(async () => {
    stack = await startBridgeStack({ appserviceId: 'status', bridges: async () => [loadedPlugin('delta', plugin)], logger: pino({ level: 'silent' }) });
    ctx = plugin.ctx as BridgeContext;
    redis = new Redis(stack.redis.connection);
  });

  afterAll(async () => {
    redis?.disconnect();
    await stack?.stop();
  });

  it('is ok while every connection is connected, and lists them', async () => {
    ctx.status.report('alpha', { state: 'connected', detail: { server: 'alpha.example:6697' } });
    await waitFor(async () => (await health()).body.bridges.length === 1, 5_000, 'the report in /health');
    const { code, body } = await health();
    expect(code).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.problems).toEqual([]);
    expect(body.bridges).toEqual([
      { bridge: 'delta', connections: [expect.objectContaining({ connection: 'alpha', state: 'connected', detail: { server: 'alpha.example:6697' }, stale: false })] },
    ]);
  });

  it('is degraded, still 200, with one problem line per failed or backing-off connection', async () => {
    ctx.status.report('beta', { state: 'failed', reason: 'SASL authentication failed' });
    ctx.status.report('gamma', { state: 'backoff', reason: 'connection refused; next try in 8 s' });
    await waitFor(async () => (await health()).body.problems.length === 2, 5_000, 'the problems in /health');
    const { code, body } = await health();
    expect(code).toBe(200);
    expect(body.status).toBe('degraded');
    expect(body.problems).toEqual([
      'bridge delta: connection beta failed: SASL authentication failed',
      'bridge delta: connection gamma backoff: connection refused; next try in 8 s',
    ]);
    // The same from any process, through ctx.status.all().
    expect((await ctx.status.all()).map((c) => [c.connection, c.state])).toEqual([
      ['alpha', 'connected'],
      ['beta', 'failed'],
      ['gamma', 'backoff'],
    ]);
  });

  it('keeps the time a state began across repeated reports of it, and resets it on a change', async () => {
    const since = async (): Promise<number> => (await ctx.status.all()).find((c) => c.connection === 'beta')!.since;
    const first = await since();
    await new Promise((r) => setTimeout(r, 20));
    ctx.status.report('beta', { state: 'failed', reason: 'SASL authentication failed' });
    await waitFor(async () => (await ctx.status.all()).find((c) => c.connection === 'beta')!.updatedAt > first, 5_000, 'the refresh');
    expect(await since()).toBe(first);
    ctx.status.report('beta', { state: 'connected' });
    await waitFor(async () => (await ctx.status.all()).find((c) => c.connection === 'beta')!.state === 'connected', 5_000, 'the change');
    expect(await since()).toBeGreaterThan(first);
    ctx.status.report('gamma', { state: 'connected' });
    await waitFor(async () => (await health()).body.status === 'ok', 5_000, 'ok again');
  });

  it('serves each connection state as a metric of the reporting process', async () => {
    const text = await (await fetch(`${stack.pipeline!.url}/metrics`)).text();
    expect(text).toContain('patchbay_bridge_connection_state{bridge="delta",connection="alpha",state="connected"} 1');
    expect(text).toContain('patchbay_bridge_connection_state{bridge="delta",connection="alpha",state="failed"} 0');
  });

  it('marks an entry nobody confirms any more as stale (its process died), which degrades /health', async () => {
    const entries = await readConnectionStatus(redis, key(), Date.now() + 4 * STATUS_HEARTBEAT_MS);
    expect(entries[0]!.connections.every((c) => c.stale)).toBe(true);
    // A process that died leaves its entry behind: write one no process confirms.
    await redis.hset(key(), 'delta/ghost-line', JSON.stringify({ state: 'connected', since: 1, updatedAt: 1 }));
    const { body } = await health();
    expect(body.status).toBe('degraded');
    expect(body.problems).toEqual(['bridge delta: connection ghost-line is not confirmed by any running process (last connected)']);
    await redis.hdel(key(), 'delta/ghost-line');
  });

  it('forgets a removed connection, refuses unknown states, and takes its entries back when the host stops', async () => {
    ctx.status.remove('gamma');
    await waitFor(async () => !(await ctx.status.all()).some((c) => c.connection === 'gamma'), 5_000, 'the removal');
    expect(() => ctx.status.report('x', { state: 'up' as never })).toThrow(/unknown state "up"/);
    await stack.restartHost();
    expect(await redis.hgetall(key())).toEqual({});
  });
});
