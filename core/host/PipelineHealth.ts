import type { Redis } from 'ioredis';
import type { DeadLetters } from '../queue/DeadLetters.js';
import type { PartitionQueues } from '../queue/PartitionQueues.js';

export type PipelineRole = 'ingest' | 'work' | 'both';

/** What GET /health answers (200 when Redis answers, 503 otherwise). */
export interface HealthReport {
  status: 'ok' | 'unavailable';
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
}

/** Reads the pipeline's state from Redis for /health; never throws. */
export class PipelineHealth {
  constructor(
    private readonly redis: Redis,
    private readonly queues: PartitionQueues,
    private readonly deadLetters: DeadLetters,
    private readonly role: PipelineRole,
    private readonly localPartitions: () => number,
  ) {}

  async report(): Promise<HealthReport> {
    const base = { role: this.role, partitions: this.queues.partitions };
    const started = performance.now();
    try {
      await this.redis.ping();
    } catch (err: unknown) {
      const error = err instanceof Error ? err.message : String(err);
      return { ...base, status: 'unavailable', redis: { reachable: false, latency_ms: null, error }, queues: null, workers: null };
    }
    const latency = Math.round((performance.now() - started) * 100) / 100;
    try {
      const [depths, workers, deadLetters] = await Promise.all([
        this.queues.depths(),
        this.queues.workerCounts(),
        this.deadLetters.count(),
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
      return {
        ...base,
        status: 'ok',
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
          unserved_partitions: per.filter((p) => p.workers === 0).map((p) => p.partition),
        },
      };
    } catch (err: unknown) {
      const error = err instanceof Error ? err.message : String(err);
      return { ...base, status: 'unavailable', redis: { reachable: false, latency_ms: latency, error }, queues: null, workers: null };
    }
  }
}
