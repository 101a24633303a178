// Two worker processes share the partitions through Redis: every room's events are handled in order,
// and a worker killed with SIGKILL mid-stream loses nothing and repeats nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { createEventPipeline, type EventPipeline } from '../../../core/host/index.js';
import { ManagedRedis } from '../../../core/redis/ManagedRedis.js';
import { waitFor } from '../../../testkit/waitFor.js';
import { HS_TOKEN, quietLogger, RetryingSender, roomEvent } from './pipelineTestKit.js';

const PARTITIONS = 8;
const ROOMS = 20;
const EVENTS = 2_000;
const PER_TXN = 50;
const CHILD = fileURLToPath(new URL('./fixtures/recordingWorker.js', import.meta.url));

interface Scenario {
  appserviceId: string;
  expected: Map<string, string[]>;
  transactions: Array<{ txnId: string; events: ReturnType<typeof roomEvent>[] }>;
}

/** 2,000 events over 20 rooms, in 40 transactions of 50, rooms interleaved at random. */
function scenario(appserviceId: string): Scenario {
  const expected = new Map<string, string[]>();
  const transactions: Scenario['transactions'] = [];
  let events: ReturnType<typeof roomEvent>[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const room = `!room${Math.floor(Math.random() * ROOMS)}:test`;
    const id = `$${appserviceId}-${i}`;
    events.push(roomEvent(id, room));
    expected.set(room, [...(expected.get(room) ?? []), id]);
    if (events.length === PER_TXN) {
      transactions.push({ txnId: `t${transactions.length}`, events });
      events = [];
    }
  }
  return { appserviceId, expected, transactions };
}

describe('the pipeline with two worker processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-multiworker-'));
  const redis = new ManagedRedis({ dir, appendOnly: false });
  const children = new Set<ChildProcess>();
  let client: Redis;

  beforeAll(async () => {
    await redis.start();
    client = new Redis(redis.connection);
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    client?.disconnect();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function spawnWorker(appserviceId: string, extra: Record<string, unknown> = {}): ChildProcess {
    const child = fork(CHILD, [], {
      env: {
        ...process.env,
        PIPELINE_CHILD: JSON.stringify({ socket: redis.socketPath, appserviceId, partitions: PARTITIONS, jitterMs: 2, ...extra }),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  }

  async function startWorker(appserviceId: string, extra: Record<string, unknown> = {}): Promise<ChildProcess> {
    const child = spawnWorker(appserviceId, extra);
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`worker process exited early (${code})`)));
    });
    return child;
  }

  function stopWorker(child: ChildProcess): Promise<void> {
    return new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }

  async function handledBy(pid: number | undefined): Promise<number> {
    const calls = await client.lrange('test:calls', 0, -1);
    return calls.filter((c) => Number(c.split(' ')[0]) === pid).length;
  }

  async function startIngest(appserviceId: string): Promise<EventPipeline> {
    const pipeline = createEventPipeline({
      registration: { id: appserviceId, hs_token: HS_TOKEN },
      redis: redis.connection,
      host: { partitions: PARTITIONS, handler_attempts: 3 },
      role: 'ingest',
      logger: quietLogger(),
      metrics: new Registry(),
      http: { bind: '127.0.0.1', port: 0 },
    });
    await pipeline.start();
    return pipeline;
  }

  async function expectEachRoomInOrderOnce(s: Scenario, pipeline: EventPipeline): Promise<void> {
    await waitFor(async () => Number(await client.get('test:handled')) >= EVENTS, 45_000, 'all events handled');
    await waitFor(async () => {
      const h = await pipeline.health();
      return h.queues !== null && h.queues.waiting + h.queues.active === 0;
    }, 30_000, 'queues drained');
    for (const [room, ids] of s.expected) {
      expect(await client.lrange(`test:order:${room}`, 0, -1)).toEqual(ids);
    }
    expect(Number(await client.get('test:handled'))).toBe(EVENTS);
  }

  it('keeps per-room order over 2,000 events in 20 rooms', async () => {
    await client.flushall();
    const s = scenario('order');
    const ingest = await startIngest(s.appserviceId);
    const a = await startWorker(s.appserviceId);
    let b: ChildProcess | null = null;
    try {
      const sender = new RetryingSender(() => ingest.url!);
      const quarter = s.transactions.length / 4;
      for (const [i, t] of s.transactions.entries()) {
        // A alone for the first quarter, A and B competing for the partitions in the middle, then A
        // stops gracefully (mid-stream) and B alone finishes: every room crosses processes.
        if (i === quarter) {
          await waitFor(async () => (await handledBy(a.pid)) > 0, 30_000, 'worker A handling events');
          b = await startWorker(s.appserviceId);
        }
        if (i === 3 * quarter) await stopWorker(a);
        await sender.send(t.txnId, { events: t.events });
      }
      await expectEachRoomInOrderOnce(s, ingest);
      expect(await handledBy(a.pid)).toBeGreaterThan(0);
      expect(await handledBy(b?.pid)).toBeGreaterThan(0);
    } finally {
      await ingest.stop();
      a.kill('SIGTERM');
      b?.kill('SIGTERM');
    }
  });

  it('loses and repeats nothing when a worker is killed with SIGKILL mid-stream', async () => {
    await client.flushall();
    const s = scenario('crash');
    const ingest = await startIngest(s.appserviceId);
    const victim = await startWorker(s.appserviceId);
    let survivor: ChildProcess | null = null;
    try {
      const sender = new RetryingSender(() => ingest.url!);
      const half = s.transactions.length / 2;
      const firstHalf = (async () => {
        for (const t of s.transactions.slice(0, half)) await sender.send(t.txnId, { events: t.events });
      })();
      // The victim alone takes the first events; a second worker joins, the victim is killed while it
      // still works through the first half, and the second half arrives after its death.
      await waitFor(async () => (await handledBy(victim.pid)) >= 100, 30_000, 'the victim handling events');
      survivor = await startWorker(s.appserviceId);
      victim.kill('SIGKILL');
      await firstHalf;
      for (const t of s.transactions.slice(half)) await sender.send(t.txnId, { events: t.events });
      await expectEachRoomInOrderOnce(s, ingest);
      expect(await handledBy(survivor.pid)).toBeGreaterThan(0);
    } finally {
      await ingest.stop();
      survivor?.kill('SIGTERM');
    }
  }, 120_000);

  it('takes over the job of a worker killed in the middle of it within host.job_takeover_ms', async () => {
    await client.flushall();
    const id = 'takeover';
    const takeoverMs = 8_000;
    const ingest = await startIngest(id);
    const victim = await startWorker(id, { hangOn: '$stuck', jobTakeoverMs: takeoverMs, jitterMs: 0 });
    let survivor: ChildProcess | null = null;
    try {
      const sender = new RetryingSender(() => ingest.url!);
      await sender.send('q1', { events: [roomEvent('$before', '!q:test'), roomEvent('$stuck', '!q:test'), roomEvent('$after', '!q:test')] });
      // The room's job is in the victim's hands, stuck on $stuck, when it dies; the room is quiet after that.
      // The survivor starts only then: started before, it could be given the room's partition first.
      await waitFor(async () => (await client.lrange('test:order:!q:test', 0, -1)).includes('$before') && (await handledBy(victim.pid)) > 0, 30_000, 'the victim holding the job');
      survivor = await startWorker(id, { jobTakeoverMs: takeoverMs, jitterMs: 0 });
      const killedAt = Date.now();
      victim.kill('SIGKILL');
      await waitFor(async () => (await client.lrange('test:order:!q:test', 0, -1)).length === 3, 30_000, 'the survivor finishing the room');
      const calls = (await client.lrange('test:calls', 0, -1)).map((c) => c.split(' '));
      const resumed = calls.find(([pid, event]) => Number(pid) === survivor!.pid && event === '$stuck');
      expect(resumed).toBeDefined();
      expect(Number(resumed![3]) - killedAt).toBeLessThanOrEqual(takeoverMs);
      expect(await client.lrange('test:order:!q:test', 0, -1)).toEqual(['$before', '$stuck', '$after']);
    } finally {
      await ingest.stop();
      survivor?.kill('SIGTERM');
    }
  }, 60_000);

  it('dead-letters an event whose handler kills the worker, after handler_attempts re-runs', async () => {
    await client.flushall();
    const id = 'poison';
    const ingest = await startIngest(id);
    const deaths: number[] = [];
    try {
      const sender = new RetryingSender(() => ingest.url!);
      await sender.send('p1', { events: [roomEvent('$a', '!p:test'), roomEvent('$crash', '!p:test'), roomEvent('$b', '!p:test')] });
      // Start workers one after the other, each when the previous one died on $crash.
      for (;;) {
        // Not waiting for "ready": a worker may take the job and die while it starts.
        const worker = spawnWorker(id, { handlerAttempts: 1, crashOn: '$crash', jitterMs: 0 });
        const outcome = await Promise.race([
          new Promise<'died'>((resolve) => worker.once('exit', () => resolve('died'))),
          waitFor(async () => (await client.llen('test:order:!p:test')) >= 2, 30_000, '$b handled').then(() => 'done' as const),
        ]);
        if (outcome === 'done') {
          worker.kill('SIGTERM');
          break;
        }
        deaths.push(worker.pid!);
        expect(deaths.length).toBeLessThan(5);
      }
      // The first run died, the one re-run allowed (handler_attempts 1) died, the next dead-lettered it.
      expect(deaths).toHaveLength(2);
      expect(await client.lrange('test:order:!p:test', 0, -1)).toEqual(['$a', '$b']);
      const dead = await client.lrange('test:dead', 0, -1);
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatch(/^\$crash the worker died/);
      expect((await ingest.deadLetters.get('$crash'))?.event.room_id).toBe('!p:test');
    } finally {
      await ingest.stop();
    }
  });
});
