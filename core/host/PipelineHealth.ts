import type { Redis } from 'ioredis';
import { connectionStatusKey, readConnectionStatus, type BridgeConnections } from '../status/ConnectionStatusBoard.js';
import type { DeadLetters } from '../queue/DeadLetters.js';
import type { PartitionQueues } from '../queue/PartitionQueues.js';

export type PipelineRole = 'ingest' | 'work' | 'both';

/**
 * What GET /health answers: 200 when Redis answers (`ok`, or `degraded` when a bridge reports a connection
 * failed, backing off or no longer confirmed, or partitions wait without a worker: events still get in,
 * some do not get out), 503 when it does not (`unavailable`: nothing can be acknowledged).
 */
export interface HealthReport {
  status: 'ok' | 'degraded' | 'unavailable';
  /** What makes it degraded, one line each ("bridge irc: connection libera failed: SASL authentication failed"). */
  problems: string[];
  role: PipelineRole;
  redis: { reachable: boolean; latency_ms: number | null; error?: string };
  partitions: number;
  queues: {
    waiting: number;
    active: number;
    failed: number;
    dead_letters: number;
    /** Age of the oldest unfinished job over all partitions. */
    oldest_age_ms: number;
    per_partition: Array<{ partition: number; waiting: number; active: number; failed: number; oldest_age_ms: number; workers: number }>;
  } | null;
  workers: {
    /** Partitions this process consumes (0 on an ingest-only host). */
    local_partitions: number;
    /** Partitions that no worker process is connected to: their events wait. */
    unserved_partitions: number[];
  } | null;
  /** Each bridge's remote connections as its processes report them (ctx.status). */
  bridges: BridgeConnections[] | null;
}

/** Reads the pipeline's state from Redis for /health; never throws. */
export class PipelineHealth {
  constructor(
    private readonly redis: Redis,
    private readonly queues: PartitionQueues,
    private readonly deadLetters: DeadLetters,
    private readonly role: PipelineRole,
    private readonly localPartitions: () => number,
    /** The key root shared with the plugin runtime (`patchbay:<id>`), where bridges report their connections. */
    private readonly keyRoot: string,
  ) {}

  async report(): Promise<HealthReport> {
    const base = { role: this.role, partitions: this.queues.partitions };
    const started = performance.now();
    try {
      await this.redis.ping();
    } catch (err: unknown) {
      const error = err instanceof Error ? err.message : String(err);
      return { ...base, status: 'unavailable', problems: [`redis: ${error}`], redis: { reachable: false, latency_ms: null, error }, queues: null, workers: null, bridges: null };
    }
    const latency = Math.round((performance.now() - started) * 100) / 100;
    try {
      const [depths, workers, deadLetters, bridges] = await Promise.all([
        this.queues.depths(),
        this.queues.workerCounts(),
        this.deadLetters.count(),
        readConnectionStatus(this.redis, connectionStatusKey(this.keyRoot)),
      ]);
      const per = depths.map((d) => ({
        partition: d.partition,
        waiting: d.waiting,
        active: d.active,
        failed: d.failed,
        oldest_age_ms: d.oldestAgeMs,
        workers: workers[d.partition] ?? 0,
      }));
      const sum = (f: (p: (typeof per)[number]) => number): number => per.reduce((a, p) => a + f(p), 0);
      const unserved = per.filter((p) => p.workers === 0).map((p) => p.partition);
      const problems = [
        ...(unserved.length > 0 ? [`partitions without a worker (their events wait): ${unserved.join(', ')}`] : []),
        ...connectionProblems(bridges),
      ];
      return {
        ...base,
        status: problems.length > 0 ? 'degraded' : 'ok',
        problems,
        redis: { reachable: true, latency_ms: latency },
        queues: {
          waiting: sum((p) => p.waiting),
          active: sum((p) => p.active),
          failed: sum((p) => p.failed),
          dead_letters: deadLetters,
          oldest_age_ms: Math.max(0, ...per.map((p) => p.oldest_age_ms)),
          per_partition: per,
        },
        workers: {
          local_partitions: this.localPartitions(),
          unserved_partitions: unserved,
        },
        bridges,
      };
    } catch (err: unknown) {
      const error = err instanceof Error ? err.message : String(err);
      return { ...base, status: 'unavailable', problems: [`redis: ${error}`], redis: { reachable: false, latency_ms: latency, error }, queues: null, workers: null, bridges: null };
    }
  }
}

/** One line per connection an operator has to look at. */
function connectionProblems(bridges: BridgeConnections[]): string[] {
  const out: string[] = [];
  for (const { bridge, connections } of bridges) {
    for (const c of connections) {
      if (c.stale) out.push(`bridge ${bridge}: connection ${c.connection} is not confirmed by any running process (last ${c.state})`);
      else if (c.state === 'failed' || c.state === 'backoff') out.push(`bridge ${bridge}: connection ${c.connection} ${c.state}${c.reason ? `: ${c.reason}` : ''}`);
    }
  }
  return out;
}
