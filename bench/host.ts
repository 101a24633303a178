// `npm run bench -- host`: the appservice host's event pipeline.
//
// - ingest: transactions of 100 events PUT over HTTP as a homeserver sends them (one at a time, like
//   Synapse, and 4 at a time) from another process, each answered only after it is in Redis (AOF on);
//   the same load against matrix-appservice (acknowledges before any handler runs, stores nothing) as the
//   non-durable baseline;
// - latency: from the homeserver sending a transaction to the handler starting on each of its events,
//   with 1 and 2 worker processes, at a steady offered load;
// - drain: how fast 1 and 2 worker processes empty a backlog (no-op handler);
// - order: events handled out of room order by one BullMQ queue at concurrency 50 (what BullMQ offers
//   without groups) and by the partitioned pipeline, with a handler that takes 0-9 ms: an event counts
//   when its handler finishes (has its effect) before the handler of an earlier event of its room.
//
// Options: --transactions N (per ingest run, default 300), --events N (per transaction, default 100),
// --partitions N (default 16), --only ingest,latency,drain,order (default all).
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import type { EventDispatcher } from '../core/contracts.js';
import { Queue } from 'bullmq';
import { createEventPipeline, PipelineKeys, type EventPipeline } from '../core/host/index.js';
import type { MatrixEvent } from '../core/plugin-api/index.js';
import { ManagedRedis } from '../core/redis/ManagedRedis.js';
import { percentile, progress, round, type BenchResult } from './BenchModule.js';

const HS_TOKEN = 'bench-hs-token';
const CHILD_ENV = 'PATCHBAY_BENCH_HOST_WORKER';
const SENDER_ENV = 'PATCHBAY_BENCH_HOST_SENDER';
const ROOMS = 200;

type Part = 'ingest' | 'latency' | 'drain' | 'order';

interface Options {
  transactions: number;
  events: number;
  partitions: number;
  parts: Part[];
}

function parseOptions(args: string[]): Options {
  const get = (name: string, fallback: number): number => {
    const i = args.indexOf(`--${name}`);
    const value = i >= 0 ? Number(args[i + 1]) : fallback;
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
    return value;
  };
  const only = args.indexOf('--only');
  const all: Part[] = ['ingest', 'latency', 'drain', 'order'];
  const parts = (only >= 0 ? (args[only + 1] ?? '').split(',') : all) as Part[];
  for (const part of parts) {
    if (!all.includes(part)) throw new Error(`--only takes ${all.join(', ')} (comma-separated), not "${part}"`);
  }
  return { transactions: get('transactions', 300), events: get('events', 100), partitions: get('partitions', 16), parts };
}

/** Pre-serialised transaction bodies with unique event ids, so the sender measures the host, not JSON.stringify. */
function transactions(prefix: string, count: number, perTxn: number, stampSendTime = false): Array<{ txnId: string; body: () => string }> {
  return Array.from({ length: count }, (_, t) => {
    const events = Array.from({ length: perTxn }, (_, i) => ({
      event_id: `$${prefix}-${t}-${i}:bench`,
      room_id: `!room${(t * perTxn + i) % ROOMS}:bench`,
      type: 'm.room.message',
      sender: '@alice:bench',
      origin_server_ts: 1_700_000_000_000,
      content: { msgtype: 'm.text', body: `message ${t}-${i} with some ordinary length to it` },
      unsigned: { age: 42 },
    }));
    const json = JSON.stringify({ events });
    // The latency run stamps the send time into each event just before the PUT.
    const body = stampSendTime ? () => json.replaceAll('"unsigned":{"age":42}', `"unsigned":{"age":42,"sent_at":${Date.now()}}`) : () => json;
    return { txnId: `${prefix}-${t}`, body };
  });
}

/** PUT over a keep-alive socket with node:http (lighter than fetch, so the client steals less CPU). */
function put(agent: Agent, port: number, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: '127.0.0.1',
        port,
        path,
        method: 'PUT',
        headers: {
          authorization: `Bearer ${HS_TOKEN}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', reject);
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

interface LoadResult {
  events_per_s: number;
  transactions_per_s: number;
  request_ms_p50: number;
  request_ms_p99: number;
}

/** Sends the transactions with `concurrency` in flight; every one must be answered 200. */
async function load(port: number, txns: Array<{ txnId: string; body: () => string }>, perTxn: number, concurrency: number): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const durations: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < txns.length) {
        const txn = txns[next++]!;
        const t0 = performance.now();
        const status = await put(agent, port, `/_matrix/app/v1/transactions/${txn.txnId}`, txn.body());
        durations.push(performance.now() - t0);
        if (status !== 200) throw new Error(`transaction ${txn.txnId} answered ${status}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  durations.sort((a, b) => a - b);
  return {
    events_per_s: Math.round((txns.length * perTxn) / seconds),
    transactions_per_s: round(txns.length / seconds, 1),
    request_ms_p50: round(percentile(durations, 50)),
    request_ms_p99: round(percentile(durations, 99)),
  };
}

interface SenderJob {
  port: number;
  prefix: string;
  count: number;
  perTxn: number;
  concurrency: number;
}

/**
 * Runs `load` in a child process, as a homeserver is another process: the sender's own CPU (building
 * requests, reading answers) is then not charged to the host being measured.
 */
function loadFromAnotherProcess(job: SenderJob): Promise<LoadResult> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, [SENDER_ENV]: JSON.stringify(job) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as LoadResult));
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`bench sender exited (${code})`))));
  });
}

async function senderMain(): Promise<void> {
  const job = JSON.parse(process.env[SENDER_ENV]!) as SenderJob;
  const result = await load(job.port, transactions(job.prefix, job.count, job.perTxn), job.perTxn, job.concurrency);
  process.send?.(result, () => process.exit(0));
}

async function ingestPipeline(redis: ManagedRedis, id: string, partitions: number): Promise<EventPipeline> {
  const pipeline = createEventPipeline({
    registration: { id, hs_token: HS_TOKEN },
    redis: redis.connection,
    host: { partitions, handler_attempts: 5 },
    role: 'ingest',
    logger: pino({ level: 'warn' }),
    metrics: new Registry(),
    http: { bind: '127.0.0.1', port: 0 },
  });
  await pipeline.start();
  return pipeline;
}

async function measureDurableIngest(redis: ManagedRedis, o: Options): Promise<Record<string, LoadResult>> {
  const pipeline = await ingestPipeline(redis, 'bench-ingest', o.partitions);
  try {
    const port = pipeline.port!;
    await loadFromAnotherProcess({ port, prefix: 'warm', count: 30, perTxn: o.events, concurrency: 1 });
    progress(`durable ingest: ${o.transactions} transactions of ${o.events} events, one at a time`);
    const sequential = await loadFromAnotherProcess({ port, prefix: 'seq', count: o.transactions, perTxn: o.events, concurrency: 1 });
    progress(`durable ingest: ${o.transactions} transactions, 4 in flight`);
    const parallel = await loadFromAnotherProcess({ port, prefix: 'par', count: o.transactions, perTxn: o.events, concurrency: 4 });
    return { concurrency_1: sequential, concurrency_4: parallel };
  } finally {
    await pipeline.stop();
  }
}

async function measureBaseline(o: Options): Promise<Record<string, LoadResult>> {
  const { AppService } = await import('matrix-appservice');
  const appservice = new AppService({ homeserverToken: HS_TOKEN, httpMaxSizeBytes: 10 * 1024 * 1024 });
  appservice.on('event', () => undefined);
  await appservice.listen(0, '127.0.0.1', 511);
  // matrix-appservice keeps its http.Server private; its express app is bound to that one server.
  const server = (appservice as unknown as { server?: import('node:http').Server }).server;
  const address = server?.address();
  if (!address || typeof address === 'string') throw new Error('matrix-appservice did not report its port');
  try {
    const port = address.port;
    await loadFromAnotherProcess({ port, prefix: 'bwarm', count: 30, perTxn: o.events, concurrency: 1 });
    progress('matrix-appservice baseline');
    const sequential = await loadFromAnotherProcess({ port, prefix: 'bseq', count: o.transactions, perTxn: o.events, concurrency: 1 });
    const parallel = await loadFromAnotherProcess({ port, prefix: 'bpar', count: o.transactions, perTxn: o.events, concurrency: 4 });
    return { concurrency_1: sequential, concurrency_4: parallel };
  } finally {
    await appservice.close();
  }
}

// ---- worker processes -------------------------------------------------------------------------------

interface ChildReport {
  handled: number;
  latenciesMs: number[];
  /** Date.now() of the first and last handled event (0 before any). */
  firstAt: number;
  lastAt: number;
  assigned: number;
}

interface WorkerChild {
  process: ChildProcess;
  report(): Promise<ChildReport>;
}

async function startWorkerChild(socket: string, id: string, partitions: number): Promise<WorkerChild> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, [CHILD_ENV]: JSON.stringify({ socket, id, partitions }) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`bench worker exited (${code})`)));
  });
  return {
    process: child,
    report: () =>
      new Promise((resolve) => {
        child.once('message', (m) => resolve(m as ChildReport));
        child.send('report');
      }),
  };
}

async function handledBy(children: WorkerChild[]): Promise<ChildReport[]> {
  return Promise.all(children.map((c) => c.report()));
}

/** Waits until the worker processes have split the partitions between them. */
async function settled(children: WorkerChild[], partitions: number): Promise<void> {
  for (;;) {
    const reports = await handledBy(children);
    if (reports.every((r) => r.assigned > 0) && reports.reduce((a, r) => a + r.assigned, 0) === partitions) return;
    await sleep(50);
  }
}

async function stopChildren(children: WorkerChild[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          c.process.once('exit', () => resolve());
          c.process.kill('SIGTERM');
        }),
    ),
  );
}

/** Steady offered load (rate transactions/s) through ingest to `workers` processes; latency send -> handler. */
async function measureLatency(redis: ManagedRedis, o: Options, workers: number, ratePerS: number, seconds: number): Promise<Record<string, number>> {
  const id = `bench-latency-${workers}`;
  const pipeline = await ingestPipeline(redis, id, o.partitions);
  const children = await Promise.all(Array.from({ length: workers }, () => startWorkerChild(redis.socketPath, id, o.partitions)));
  try {
    await settled(children, o.partitions);
    const txns = transactions(`lat${workers}`, ratePerS * seconds, o.events, true);
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const started = performance.now();
    const inFlight: Array<Promise<number>> = [];
    for (let t = 0; t < txns.length; t++) {
      const due = started + (t * 1000) / ratePerS;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      inFlight.push(put(agent, pipeline.port!, `/_matrix/app/v1/transactions/${txns[t]!.txnId}`, txns[t]!.body()));
    }
    const statuses = await Promise.all(inFlight);
    if (statuses.some((s) => s !== 200)) throw new Error('a latency-run transaction was refused');
    const total = txns.length * o.events;
    for (;;) {
      const reports = await handledBy(children);
      if (reports.reduce((a, r) => a + r.handled, 0) >= total) {
        const latencies = reports.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
        agent.destroy();
        return {
          offered_events_per_s: ratePerS * o.events,
          events: total,
          latency_ms_p50: round(percentile(latencies, 50)),
          latency_ms_p99: round(percentile(latencies, 99)),
          latency_ms_max: round(latencies[latencies.length - 1] ?? Number.NaN),
        };
      }
      await sleep(50);
    }
  } finally {
    await stopChildren(children);
    await pipeline.stop();
  }
}

/**
 * A backlog drained by `workers` processes: the workers start and split the partitions first, the queues
 * are paused while the backlog is queued, then resumed, so the rate is the workers' steady state.
 */
async function measureDrain(redis: ManagedRedis, o: Options, workers: number, backlogTxns: number): Promise<Record<string, unknown>> {
  const id = `bench-drain-${workers}`;
  const pipeline = await ingestPipeline(redis, id, o.partitions);
  const keys = new PipelineKeys(id);
  const queues = Array.from({ length: o.partitions }, (_, p) => new Queue(keys.queueName(p), { connection: redis.connection, prefix: keys.queuePrefix }));
  const children = await Promise.all(Array.from({ length: workers }, () => startWorkerChild(redis.socketPath, id, o.partitions)));
  try {
    await settled(children, o.partitions);
    await Promise.all(queues.map((q) => q.pause()));
    await load(pipeline.port!, transactions(`drain${workers}`, backlogTxns, o.events), o.events, 4);
    await Promise.all(queues.map((q) => q.resume()));
    const total = backlogTxns * o.events;
    let reports: ChildReport[];
    for (;;) {
      reports = await handledBy(children);
      if (reports.reduce((a, r) => a + r.handled, 0) >= total) break;
      await sleep(20);
    }
    // From the first event any worker handled to the last.
    const first = Math.min(...reports.filter((r) => r.firstAt > 0).map((r) => r.firstAt));
    const last = Math.max(...reports.map((r) => r.lastAt));
    return {
      events: total,
      events_per_s: Math.round(total / ((last - first) / 1000)),
      share_per_worker: reports.map((r) => round(r.handled / total)),
    };
  } finally {
    await stopChildren(children);
    await Promise.all(queues.map((q) => q.close()));
    await pipeline.stop();
  }
}

const ORDER_EVENTS = 3_000;
const ORDER_ROOMS = 20;

function randomPause(): Promise<void> {
  return sleep(Math.floor(Math.random() * 10));
}

/** Counts events whose handler finished (its effect, e.g. a message sent on) before an earlier event of the same room's. */
function reorderCounter(): { seen(roomId: string, seq: number): void; readonly outOfOrder: number } {
  const last = new Map<string, number>();
  let outOfOrder = 0;
  return {
    seen(roomId, seq) {
      if (seq < (last.get(roomId) ?? -1)) outOfOrder++;
      else last.set(roomId, seq);
    },
    get outOfOrder() {
      return outOfOrder;
    },
  };
}

/** One BullMQ queue, one job per event, a worker at concurrency 50 (no per-room ordering). */
async function reorderSingleQueue(redis: ManagedRedis): Promise<number> {
  const connection = { path: redis.socketPath, maxRetriesPerRequest: null };
  const queue = new Queue('bench-order-single', { connection, prefix: 'bench' });
  const counter = reorderCounter();
  let handled = 0;
  const { Worker } = await import('bullmq');
  const worker = new Worker(
    'bench-order-single',
    async (job) => {
      const { room, seq } = job.data as { room: string; seq: number };
      await randomPause();
      counter.seen(room, seq);
      handled++;
    },
    { connection, prefix: 'bench', concurrency: 50, autorun: false },
  );
  const jobs = Array.from({ length: ORDER_EVENTS }, (_, i) => ({ name: 'event', data: { room: `!r${i % ORDER_ROOMS}`, seq: i } }));
  for (let i = 0; i < jobs.length; i += 500) await queue.addBulk(jobs.slice(i, i + 500));
  void worker.run();
  while (handled < ORDER_EVENTS) await sleep(20);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return counter.outOfOrder;
}

/** The same events through the pipeline (partitioned queues, global concurrency 1). */
async function reorderPipeline(redis: ManagedRedis, o: Options): Promise<number> {
  const counter = reorderCounter();
  let handled = 0;
  const pipeline = createEventPipeline({
    registration: { id: 'bench-order', hs_token: HS_TOKEN },
    redis: redis.connection,
    host: { partitions: o.partitions, handler_attempts: 5 },
    role: 'both',
    dispatcher: {
      async dispatch(event: MatrixEvent): Promise<void> {
        await randomPause();
        counter.seen(event.room_id, Number(event.content['seq']));
        handled++;
      },
      async dispatchEphemeral(): Promise<void> {},
      async deadLettered(): Promise<void> {},
    },
    logger: pino({ level: 'warn' }),
    metrics: new Registry(),
    http: { bind: '127.0.0.1', port: 0 },
  });
  await pipeline.start();
  try {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    for (let t = 0; t < ORDER_EVENTS / 100; t++) {
      const events = Array.from({ length: 100 }, (_, i) => {
        const seq = t * 100 + i;
        return { event_id: `$order-${seq}`, room_id: `!r${seq % ORDER_ROOMS}`, type: 'm.room.message', sender: '@a:bench', origin_server_ts: 0, content: { seq } };
      });
      const status = await put(agent, pipeline.port!, `/_matrix/app/v1/transactions/order-${t}`, JSON.stringify({ events }));
      if (status !== 200) throw new Error(`order transaction answered ${status}`);
    }
    agent.destroy();
    while (handled < ORDER_EVENTS) await sleep(20);
    return counter.outOfOrder;
  } finally {
    await pipeline.stop();
  }
}

/** The bench's worker process: the pipeline's `work` role with a no-op handler that notes latencies. */
async function workerChildMain(): Promise<void> {
  const { socket, id, partitions } = JSON.parse(process.env[CHILD_ENV]!) as { socket: string; id: string; partitions: number };
  let handled = 0;
  let firstAt = 0;
  let lastAt = 0;
  const latenciesMs: number[] = [];
  const dispatcher: EventDispatcher = {
    async dispatch(event: MatrixEvent): Promise<void> {
      handled++;
      lastAt = Date.now();
      if (firstAt === 0) firstAt = lastAt;
      const sentAt = event.unsigned?.['sent_at'];
      if (typeof sentAt === 'number') latenciesMs.push(Date.now() - sentAt);
    },
    async dispatchEphemeral(): Promise<void> {},
    async deadLettered(): Promise<void> {},
  };
  const pipeline = createEventPipeline({
    registration: { id, hs_token: HS_TOKEN },
    redis: { path: socket },
    host: { partitions, handler_attempts: 5 },
    role: 'work',
    dispatcher,
    logger: pino({ level: 'warn' }),
    metrics: new Registry(),
    http: null,
    // Quick rebalancing, so a second worker process takes its share within the measurement.
    tuning: { heartbeatMs: 250 },
  });
  await pipeline.start();
  process.on('message', () =>
    process.send?.({ handled, latenciesMs, firstAt, lastAt, assigned: pipeline.assignedPartitions.length } satisfies ChildReport),
  );
  process.once('SIGTERM', () => {
    void pipeline.stop().finally(() => process.exit(0));
  });
  process.send?.('ready');
}

export async function run(args: string[] = []): Promise<BenchResult> {
  const o = parseOptions(args);
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-host-'));
  const redis = new ManagedRedis({ dir, appendOnly: true });
  await redis.start();
  try {
    const result: BenchResult = {
      setup: {
        events_per_transaction: o.events,
        transactions_per_run: o.transactions,
        partitions: o.partitions,
        rooms: ROOMS,
        redis: 'managed redis-server on a unix socket, appendonly yes, appendfsync everysec',
        node: process.version,
      },
    };
    if (o.parts.includes('ingest')) {
      const durable = await measureDurableIngest(redis, o);
      const baseline = await measureBaseline(o);
      result['ingest'] = {
        durable,
        matrix_appservice_baseline: baseline,
        ratio_vs_baseline: {
          concurrency_1: round(durable['concurrency_1']!.events_per_s / baseline['concurrency_1']!.events_per_s),
          concurrency_4: round(durable['concurrency_4']!.events_per_s / baseline['concurrency_4']!.events_per_s),
        },
      };
    }
    if (o.parts.includes('latency')) {
      progress('latency with 1 and 2 worker processes');
      const rate = 50;
      result['latency_send_to_handler'] = {
        workers_1: await measureLatency(redis, o, 1, rate, 4),
        workers_2: await measureLatency(redis, o, 2, rate, 4),
      };
    }
    if (o.parts.includes('drain')) {
      progress('drain rate with 1 and 2 worker processes');
      result['drain'] = {
        workers_1: await measureDrain(redis, o, 1, 400),
        workers_2: await measureDrain(redis, o, 2, 400),
      };
    }
    if (o.parts.includes('order')) {
      progress('ordering: one queue at concurrency 50 against the partitioned pipeline');
      result['order'] = {
        events: ORDER_EVENTS,
        rooms: ORDER_ROOMS,
        out_of_order_single_queue_concurrency_50: await reorderSingleQueue(redis),
        out_of_order_partitioned_pipeline: await reorderPipeline(redis, o),
      };
    }
    return result;
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env[SENDER_ENV]) {
  senderMain().catch((err: unknown) => {
    process.stderr.write(`bench sender failed: ${String(err)}\n`);
    process.exit(1);
  });
} else if (process.env[CHILD_ENV]) {
  workerChildMain().catch((err: unknown) => {
    process.stderr.write(`bench worker failed: ${String(err)}\n`);
    process.exit(1);
  });
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // Standalone: node dist/bench/host.js [options]
  run(process.argv.slice(2)).then(
    (result) => {
      process.stdout.write(JSON.stringify({ bench: 'host', ...result }, null, 2) + '\n');
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
