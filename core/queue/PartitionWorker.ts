import { setTimeout as sleep } from 'node:timers/promises';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { EventDispatcher } from '../contracts.js';
import type { PipelineMetrics } from '../metrics/PipelineMetrics.js';
import type { MatrixEvent } from '../plugin/api.js';
import type { DeadLetters } from './DeadLetters.js';
import type { EventLedger } from './EventLedger.js';
import type { PartitionSlice } from './PartitionSlice.js';
import type { PipelineKeys } from './PipelineKeys.js';
import { RedisErrorLog } from './RedisErrorLog.js';

export interface PartitionWorkerOptions {
  /** Connection for BullMQ and the ledger; must have `maxRetriesPerRequest: null` (commands wait out a Redis restart). */
  connection: Redis;
  keys: PipelineKeys;
  dispatcher: EventDispatcher;
  ledger: EventLedger;
  deadLetters: DeadLetters;
  metrics: PipelineMetrics;
  logger: Logger;
  /** Tries per event (host.handler_attempts) before it is dead-lettered. */
  handlerAttempts: number;
  /** Pause before try n+1 after try n failed; default 250 ms doubling, at most 30 s. */
  retryDelayMs?: (failedAttempt: number) => number;
  /** How long a job's lock lives without renewal: a dead worker's job is taken over after about this long. */
  lockDurationMs?: number;
  /** How often each worker looks for jobs whose worker died. */
  stalledIntervalMs?: number;
}

const defaultRetryDelay = (attempt: number): number => Math.min(250 * 2 ** (attempt - 1), 30_000);

/**
 * Consumes the partition queues: one BullMQ Worker per partition, concurrency 1 (and global concurrency 1
 * on the queue), so each room's events run one after another across every worker process.
 *
 * A job is a partition-slice of one transaction. Its events are handled in order; a failing event is
 * retried here, inside the processor (the job never fails, so nothing behind it can overtake), and
 * after `handlerAttempts` tries it goes to the dead-letter set and the room is told. Each handled event
 * is recorded in the EventLedger, so a job that runs again after its worker died skips what is done.
 */
export class PartitionWorker {
  private readonly workers = new Map<number, Worker<PartitionSlice>>();
  /** Workers of partitions handed to another process, finishing their running job. */
  private readonly retiring = new Set<Promise<void>>();
  /** Jobs whose lock this process lost (Redis away too long): stop handling them, another worker took over. */
  private readonly lostLocks = new Set<string>();
  private readonly retryDelay: (attempt: number) => number;
  private readonly errors: RedisErrorLog;

  constructor(private readonly options: PartitionWorkerOptions) {
    if (!Number.isInteger(options.handlerAttempts) || options.handlerAttempts < 1) {
      throw new RangeError(`handler_attempts must be a positive integer (got ${options.handlerAttempts})`);
    }
    this.retryDelay = options.retryDelayMs ?? defaultRetryDelay;
    this.errors = new RedisErrorLog(options.logger, 'partition workers');
  }

  /** Partitions this process consumes now. */
  get assigned(): number[] {
    return [...this.workers.keys()].sort((a, b) => a - b);
  }

  /**
   * Consumes exactly these partitions from now on: starts workers for new ones; a partition given up
   * finishes its running job first (meanwhile its queue's global concurrency keeps the next owner waiting).
   */
  async assign(partitions: number[]): Promise<void> {
    const wanted = new Set(partitions);
    for (const [partition, worker] of this.workers) {
      if (wanted.has(partition)) continue;
      this.workers.delete(partition);
      const closing = worker.close().catch((err: unknown) => this.options.logger.warn({ err, partition }, 'closing a partition worker failed'));
      this.retiring.add(closing);
      void closing.finally(() => this.retiring.delete(closing));
    }
    const started: Worker<PartitionSlice>[] = [];
    for (const partition of wanted) {
      if (this.workers.has(partition)) continue;
      const worker = this.createWorker(partition);
      this.workers.set(partition, worker);
      started.push(worker);
    }
    await Promise.all(started.map((w) => w.waitUntilReady()));
  }

  /** Waits for running jobs to finish, then stops. `force` abandons them (another worker re-runs them). */
  async close(force = false): Promise<void> {
    const workers = [...this.workers.values()];
    this.workers.clear();
    await Promise.all([...workers.map((w) => w.close(force)), ...this.retiring]);
  }

  private createWorker(partition: number): Worker<PartitionSlice> {
    const { connection, keys, logger } = this.options;
    const worker = new Worker<PartitionSlice>(keys.queueName(partition), (job) => this.process(job, partition), {
      connection,
      prefix: keys.queuePrefix,
      concurrency: 1,
      lockDuration: this.options.lockDurationMs ?? 30_000,
      stalledInterval: this.options.stalledIntervalMs ?? 30_000,
      // A job whose worker died goes back to the head of its queue, however often: failing it would lose events.
      maxStalledCount: 1_000_000_000,
      runRetryDelay: 1_000,
      // Seconds an idle worker blocks for a new job. BullMQ wakes it when a job is added, but not when
      // the job that kept the queue at its global concurrency finishes elsewhere (a partition handed over
      // between processes): then this bounds the pause.
      drainDelay: 1,
      autorun: false,
    });
    worker.on('error', (err) => this.errors.report(err, { partition }));
    worker.on('lockRenewalFailed', (jobIds: string[]) => {
      for (const id of jobIds) this.lostLocks.add(id);
      logger.warn({ partition, jobs: jobIds }, 'partition worker: lost the lock of a running job; another worker takes it over');
    });
    worker.on('failed', (job, err) =>
      // Never expected (the processor catches handler errors); a failed job is kept in Redis for inspection.
      logger.error({ err, partition, job: job?.id }, 'partition worker: a job failed outside the handler; it is kept in the failed set'),
    );
    worker.run().catch((err: unknown) => logger.error({ err, partition }, 'partition worker stopped'));
    return worker;
  }

  private async process(job: Job<PartitionSlice>, partition: number): Promise<void> {
    const { ledger, metrics, logger } = this.options;
    const slice = job.data;
    const jobId = job.id ?? '';
    // A job that started before (its worker died or lost its lock) may have run some handlers already.
    const rerun = job.attemptsStarted > 1 || job.stalledCounter > 0;
    const states = await ledger.states(slice.events.map((e) => e.event_id));
    const marks: Array<Promise<unknown>> = [];
    try {
      for (let i = 0; i < slice.events.length; i++) {
        if (this.lostLocks.has(jobId)) return;
        const event = slice.events[i]!;
        const state = states[i];
        if (state === 'handled' || state === 'dead') {
          metrics.eventsDuplicate.inc({ stage: 'worker' });
          metrics.eventsHandled.inc({ outcome: 'skipped_done' });
          continue;
        }
        let previousStarts = 0;
        if (rerun) {
          previousStarts = await ledger.countCrashStart(event.event_id);
          if (previousStarts > this.options.handlerAttempts) {
            await this.deadLetter(event, new Error(`the worker died while handling this event (${previousStarts} runs did not finish)`), previousStarts, partition);
            continue;
          }
        }
        metrics.deliverySeconds.observe(Math.max(0, Date.now() - slice.enqueuedAt) / 1000);
        const handled = await this.handle(event, partition, previousStarts);
        if (handled) marks.push(ledger.markHandled(event.event_id));
      }
      for (const ephemeral of slice.ephemeral) {
        try {
          await this.options.dispatcher.dispatchEphemeral(ephemeral);
          metrics.ephemeralHandled.inc({ outcome: 'handled' });
        } catch (err: unknown) {
          // Typing and receipts are momentary: a failure is logged and counted, not retried.
          metrics.ephemeralHandled.inc({ outcome: 'failed' });
          logger.warn({ err, room_id: ephemeral.room_id, type: ephemeral.type }, 'ephemeral event handler failed');
        }
      }
    } finally {
      // The ledger connection queues commands while Redis is away, so these complete once it is back.
      await Promise.all(marks);
      this.lostLocks.delete(jobId);
    }
  }

  /** Runs the handler with retries; true when it succeeded, false when the event was dead-lettered. */
  private async handle(event: MatrixEvent, partition: number, previousStarts: number): Promise<boolean> {
    const { dispatcher, metrics, logger, handlerAttempts } = this.options;
    let lastError: Error | undefined;
    for (let attempt = 1; attempt <= handlerAttempts; attempt++) {
      const started = performance.now();
      try {
        await dispatcher.dispatch(event, previousStarts + attempt);
        metrics.handlerSeconds.observe((performance.now() - started) / 1000);
        metrics.eventsHandled.inc({ outcome: 'handled' });
        return true;
      } catch (err: unknown) {
        metrics.handlerSeconds.observe((performance.now() - started) / 1000);
        metrics.handlerFailures.inc();
        lastError = err instanceof Error ? err : new Error(String(err));
        logger.warn(
          { err: lastError, room_id: event.room_id, event_id: event.event_id, attempt, of: handlerAttempts },
          'event handler failed',
        );
        if (attempt < handlerAttempts) await sleep(this.retryDelay(attempt));
      }
    }
    await this.deadLetter(event, lastError ?? new Error('handler failed'), previousStarts + handlerAttempts, partition);
    return false;
  }

  private async deadLetter(event: MatrixEvent, error: Error, attempts: number, partition: number): Promise<void> {
    const { deadLetters, dispatcher, metrics, logger } = this.options;
    await deadLetters.add({ event, error: error.message, attempts, time: Date.now(), partition });
    metrics.deadLetters.inc();
    metrics.eventsHandled.inc({ outcome: 'dead_lettered' });
    logger.error({ err: error, room_id: event.room_id, event_id: event.event_id, attempts }, 'event dead-lettered');
    try {
      await dispatcher.deadLettered(event, error);
    } catch (err: unknown) {
      logger.error({ err, room_id: event.room_id, event_id: event.event_id }, 'could not report a dead-lettered event to the room');
    }
  }
}
