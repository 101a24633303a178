import { setTimeout as sleep } from 'node:timers/promises';
import { WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { EventDispatcher } from '../contracts.js';
import type { PipelineMetrics } from '../metrics/PipelineMetrics.js';
import type { MatrixEvent } from '../plugin-api/index.js';
import type { DeadLetters } from './DeadLetters.js';
import type { EventLedger } from './EventLedger.js';
import { handlerFailureOf } from './HandlerFailure.js';
import { outageOf, type OutageSource } from './OutageClassifier.js';
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
  /**
   * Per event, how long the waits plugins ask for with RetryLaterError may add up to without spending
   * handler attempts (host.retry_later_budget_ms); past it each such retry counts as a failed try.
   */
  retryLaterBudgetMs?: number;
  /**
   * Pause n while Redis or the homeserver is down (OutageClassifier); default 500 ms doubling, at most
   * 30 s. A wait ends early when the worker's Redis connection is ready again.
   */
  outageDelayMs?: (wait: number) => number;
  /** How long a job's lock lives without renewal: a dead worker's job is taken over after about this long. */
  lockDurationMs?: number;
  /** How often each worker looks for jobs whose worker died. */
  stalledIntervalMs?: number;
}

const defaultRetryDelay = (attempt: number): number => Math.min(250 * 2 ** (attempt - 1), 30_000);
const defaultOutageDelay = (wait: number): number => Math.min(500 * 2 ** Math.min(wait - 1, 10), 30_000);
/** How long a worker that is stopping tries to hand a job back before leaving it to the stalled check. */
const HAND_BACK_TIMEOUT_MS = 5_000;

/** An event whose handler is waiting for Redis or the homeserver to come back. */
interface OutageWait {
  source: OutageSource;
  since: number;
  /** Pauses so far (metric and log); `step` is the backoff's position, reset when Redis is back. */
  waits: number;
  step: number;
}

/** How a handler run ended; `lost_lock` and `stopping` leave the event to the job's next run. */
type HandleOutcome = 'handled' | 'dead' | 'lost_lock' | 'stopping';
type WakeReason = 'ready' | 'lost_lock' | 'stopping';

/**
 * Consumes the partition queues: one BullMQ Worker per partition, concurrency 1 (and global concurrency 1
 * on the queue), so each room's events run one after another across every worker process.
 *
 * A job is a partition-slice of one transaction. Its events are handled in order; a failing event is
 * retried here, inside the processor (the job never fails, so nothing behind it can overtake), and
 * after `handlerAttempts` tries it goes to the dead-letter set and the room is told. Each handled event
 * is recorded in the EventLedger, so a job that runs again after its worker died skips what is done.
 *
 * A failure caused by an outage of Redis or the homeserver (OutageClassifier) spends no attempt: the
 * partition waits (capped backoff, logged once per outage, counted in patchbay_handler_outage_waits_total)
 * and retries the same event for as long as the outage lasts, so the room's order holds and nothing is
 * dead-lettered because infrastructure was down. The number handed to the dispatcher still grows with
 * every call, so a plugin (and PluginHost's per-bridge markers) knows a retry from a first try.
 */
export class PartitionWorker {
  private readonly workers = new Map<number, Worker<PartitionSlice>>();
  /** Workers of partitions handed to another process, finishing their running job. */
  private readonly retiring = new Set<Promise<void>>();
  /** Jobs whose lock this process lost (Redis away too long): stop handling them, another worker took over. */
  private readonly lostLocks = new Set<string>();
  private readonly retryDelay: (attempt: number) => number;
  private readonly outageDelay: (wait: number) => number;
  private readonly retryLaterBudget: number;
  private readonly errors: RedisErrorLog;
  /** Ends every outage pause now: Redis is back, a lock was lost, or the worker is stopping. */
  private readonly wakers = new Set<(why: WakeReason) => void>();
  private readonly wakeOnReady = (): void => this.wakeAll('ready');
  private stopping = false;

  constructor(private readonly options: PartitionWorkerOptions) {
    if (!Number.isInteger(options.handlerAttempts) || options.handlerAttempts < 1) {
      throw new RangeError(`handler_attempts must be a positive integer (got ${options.handlerAttempts})`);
    }
    this.retryDelay = options.retryDelayMs ?? defaultRetryDelay;
    this.outageDelay = options.outageDelayMs ?? defaultOutageDelay;
    this.retryLaterBudget = options.retryLaterBudgetMs ?? 300_000;
    this.errors = new RedisErrorLog(options.logger, 'partition workers');
    options.connection.on('ready', this.wakeOnReady);
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
    // A job waiting out an outage is handed back (it would otherwise hold the stop until the outage ends).
    this.stopping = true;
    this.wakeAll('stopping');
    this.options.connection.off('ready', this.wakeOnReady);
    await Promise.all([...workers.map((w) => w.close(force)), ...this.retiring]);
  }

  private createWorker(partition: number): Worker<PartitionSlice> {
    const { connection, keys, logger } = this.options;
    const worker = new Worker<PartitionSlice>(keys.queueName(partition), (job, token) => this.process(job, partition, token), {
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
      this.wakeAll('lost_lock');
      logger.warn({ partition, jobs: jobIds }, 'partition worker: lost the lock of a running job; another worker takes it over');
    });
    worker.on('failed', (job, err) =>
      // Never expected (the processor catches handler errors); a failed job is kept in Redis for inspection.
      logger.error({ err, partition, job: job?.id }, 'partition worker: a job failed outside the handler; it is kept in the failed set'),
    );
    worker.run().catch((err: unknown) => logger.error({ err, partition }, 'partition worker stopped'));
    return worker;
  }

  private async process(job: Job<PartitionSlice>, partition: number, token: string | undefined): Promise<void> {
    const { ledger, metrics, logger } = this.options;
    const slice = job.data;
    const jobId = job.id ?? '';
    // A job that started before (its worker died or lost its lock) may have run some handlers already.
    const rerun = job.attemptsStarted > 1 || job.stalledCounter > 0;
    const states = await ledger.states(slice.events.map((e) => e.event_id));
    const marks: Array<Promise<unknown>> = [];
    try {
      for (let i = 0; i < slice.events.length; i++) {
        const event = slice.events[i]!;
        if (this.lostLocks.has(jobId)) {
          marks.push(this.forgive(event, partition));
          return;
        }
        const state = states[i];
        if (state === 'handled' || state === 'dead') {
          metrics.eventsDuplicate.inc({ stage: 'worker' });
          metrics.eventsHandled.inc({ outcome: 'skipped_done' });
          continue;
        }
        let previousStarts = 0;
        if (rerun) {
          // Below 0 when runs ended by lost locks were forgiven (EventLedger.forgiveCrashStart).
          previousStarts = Math.max(0, await ledger.countCrashStart(event.event_id));
          if (previousStarts > this.options.handlerAttempts) {
            await this.deadLetter(event, new Error(`the worker died while handling this event (${previousStarts} runs did not finish)`), previousStarts, partition);
            continue;
          }
        }
        metrics.deliverySeconds.observe(Math.max(0, Date.now() - slice.enqueuedAt) / 1000);
        const outcome = await this.handle(event, partition, previousStarts, jobId);
        if (outcome === 'handled') marks.push(ledger.markHandled(event.event_id));
        else if (outcome === 'lost_lock') {
          marks.push(this.forgive(event, partition));
          return;
        } else if (outcome === 'stopping') {
          // Neither a lost lock nor a stop is a crash: the re-run must not count towards the crash limit.
          marks.push(this.forgive(event, partition));
          await this.handBack(job, token, partition);
          // Not a failure: BullMQ leaves the job where handBack put it.
          throw new WaitingError();
        }
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

  /**
   * Runs the handler with retries. Failures of the event count towards handlerAttempts (then it is
   * dead-lettered); outages of Redis or the homeserver are waited out without counting.
   */
  private async handle(event: MatrixEvent, partition: number, previousStarts: number, jobId: string): Promise<HandleOutcome> {
    const { dispatcher, metrics, logger, handlerAttempts } = this.options;
    let lastError: Error | undefined;
    let attempt = 1;
    let calls = 0;
    let outage: OutageWait | null = null;
    /** Time spent in waits the plugins asked for (RetryLaterError), against the budget. */
    let laterWaited = 0;
    for (;;) {
      calls++;
      const started = performance.now();
      try {
        await dispatcher.dispatch(event, previousStarts + calls);
        metrics.handlerSeconds.observe((performance.now() - started) / 1000);
        metrics.eventsHandled.inc({ outcome: 'handled' });
        this.endOutage(outage, event, partition, 'handled');
        return 'handled';
      } catch (err: unknown) {
        metrics.handlerSeconds.observe((performance.now() - started) / 1000);
        lastError = err instanceof Error ? err : new Error(String(err));
        const source = outageOf(err);
        if (source !== null) {
          if (outage === null) {
            outage = { source, since: Date.now(), waits: 0, step: 0 };
            metrics.outagePartitions.inc();
            logger.warn(
              { err: lastError, room_id: event.room_id, event_id: event.event_id, partition, dependency: source, attempt },
              `${source} is unavailable: the partition waits and retries this event without spending a handler attempt`,
            );
          }
          outage.source = source;
          outage.waits++;
          outage.step++;
          metrics.outageWaits.inc({ dependency: source });
          const woken = await this.pause(this.outageDelay(outage.step));
          if (woken === 'ready') outage.step = 0;
          if (this.lostLocks.has(jobId) || this.stopping) {
            const why = this.lostLocks.has(jobId) ? 'lost_lock' : 'stopping';
            this.endOutage(outage, event, partition, why);
            return why;
          }
          continue;
        }
        this.endOutage(outage, event, partition, 'event_failed');
        outage = null;
        const failure = handlerFailureOf(err);
        const budgetLeft = this.retryLaterBudget - laterWaited;
        if (failure.kind === 'retry-later' && budgetLeft > 0) {
          const waitMs = Math.min(failure.delayMs ?? this.retryDelay(attempt), budgetLeft);
          laterWaited += waitMs;
          metrics.retryLaterWaits.inc();
          logger.info({ err: lastError.message, room_id: event.room_id, event_id: event.event_id, wait_ms: waitMs, attempt }, 'the bridge asked to retry this event later');
          const woken = await this.pause(waitMs);
          if (woken === 'lost_lock' || woken === 'stopping') return woken;
          continue;
        }
        metrics.handlerFailures.inc();
        if (failure.kind === 'permanent') {
          logger.warn({ err: lastError, room_id: event.room_id, event_id: event.event_id, attempt }, 'event handler failed for good: dead-lettering it now');
          await this.deadLetter(event, lastError, previousStarts + attempt, partition);
          return 'dead';
        }
        logger.warn(
          { err: lastError, room_id: event.room_id, event_id: event.event_id, attempt, of: handlerAttempts },
          'event handler failed',
        );
        if (attempt >= handlerAttempts) break;
        await sleep(this.retryDelay(attempt));
        attempt++;
      }
    }
    await this.deadLetter(event, lastError ?? new Error('handler failed'), previousStarts + handlerAttempts, partition);
    return 'dead';
  }

  /** The job's re-run starts at this event; it was not a crash (see EventLedger.forgiveCrashStart). */
  private forgive(event: MatrixEvent, partition: number): Promise<void> {
    return this.options.ledger
      .forgiveCrashStart(event.event_id)
      .catch((err: unknown) => this.options.logger.warn({ err, partition, room_id: event.room_id, event_id: event.event_id }, 'could not record a lost lock as no crash'));
  }

  private endOutage(outage: OutageWait | null, event: MatrixEvent, partition: number, outcome: string): void {
    if (outage === null) return;
    this.options.metrics.outagePartitions.dec();
    this.options.logger.info(
      { room_id: event.room_id, event_id: event.event_id, partition, dependency: outage.source, waits: outage.waits, waited_ms: Date.now() - outage.since, outcome },
      'outage wait over',
    );
  }

  /** Sleeps `ms` unless woken first; says what ended it. */
  private pause(ms: number): Promise<WakeReason | 'timer'> {
    if (this.stopping) return Promise.resolve('stopping');
    return new Promise((resolve) => {
      const wake = (why: WakeReason | 'timer'): void => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve(why);
      };
      const timer = setTimeout(() => wake('timer'), ms);
      this.wakers.add(wake);
    });
  }

  private wakeAll(why: WakeReason): void {
    for (const wake of [...this.wakers]) wake(why);
  }

  /**
   * Puts a job this stopping worker gives up back at the head of its queue (moveToWait pushes to the
   * end that is taken next), so the next owner resumes it in order. If Redis does not answer in time,
   * the job's lock lapses and the stalled check does the same.
   */
  private async handBack(job: Job<PartitionSlice>, token: string | undefined, partition: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        job.moveToWait(token),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('Redis did not answer')), HAND_BACK_TIMEOUT_MS);
        }),
      ]);
    } catch (err: unknown) {
      this.options.logger.warn({ err, partition, job: job.id }, 'could not hand a job back while stopping; the stalled check re-queues it');
    } finally {
      clearTimeout(timer);
    }
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
