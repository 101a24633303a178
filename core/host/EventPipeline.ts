import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { hostSettings, type HostConfig } from '../../config/index.js';
import type { AppserviceRegistration } from '../../registration/index.js';
import { createAppserviceRouter } from '../appservice/AppserviceApi.js';
import type { EventDispatcher, QueryResolver, ThirdPartyResolver } from '../contracts.js';
import { TransactionIngest } from '../ingest/TransactionIngest.js';
import { PipelineMetrics } from '../metrics/PipelineMetrics.js';
import { DeadLetterReplay, type ReplayOutcome } from '../queue/DeadLetterReplay.js';
import { DeadLetters } from '../queue/DeadLetters.js';
import type { RecentErrors } from '../status/RecentErrors.js';
import { StatusAccess } from '../status/StatusAccess.js';
import { createStatusPageRouter } from '../status/StatusPage.js';
import { EventLedger } from '../queue/EventLedger.js';
import { jobTakeoverTiming } from '../partitioning/JobTakeover.js';
import { PartitionAssignment } from '../queue/PartitionAssignment.js';
import { PartitionQueues } from '../queue/PartitionQueues.js';
import { PartitionWorker } from '../queue/PartitionWorker.js';
import { PipelineKeys } from '../queue/PipelineKeys.js';
import { RoomPartitioner } from '../partitioning/RoomPartitioner.js';
import { HostHttpServer } from './HostHttpServer.js';
import { PipelineHealth, type HealthReport, type PipelineRole } from './PipelineHealth.js';
import { openFailFastRedis, openWorkerRedis, whenReady, type RedisConnectionOptions } from './RedisConnections.js';

export interface EventPipelineHttpOptions {
  bind: string;
  /** 0 picks a free port (tests). */
  port: number;
}

/** Knobs with safe defaults; tests shorten the timings. */
export interface EventPipelineTuning {
  /** How long txnIds and event ids are remembered for dedupe. Default 7 days. */
  dedupeTtlSeconds?: number;
  /** Pause after a failed handler try n. Default 250 ms doubling, at most 30 s. */
  retryDelayMs?: (failedAttempt: number) => number;
  /** How long a job's lock lives without renewal. Default half of host.job_takeover_ms (JobTakeover.ts). */
  lockDurationMs?: number;
  /** How often workers look for jobs of dead workers. Default a quarter of host.job_takeover_ms. */
  stalledIntervalMs?: number;
  /** Longest a transaction may take to store before the homeserver gets 503. Default 10 s. */
  ingestTimeoutMs?: number;
  /**
   * Partitions this worker process consumes. Default: balanced over the live worker processes
   * (PartitionAssignment); give a list to pin them instead.
   */
  workerPartitions?: number[];
  /**
   * Heartbeat of worker processes for the balanced assignment; one silent for 3 beats is dropped, so its
   * partitions find a new owner within the takeover bound. Default 2 s, less for a short host.job_takeover_ms (J/16).
   */
  heartbeatMs?: number;
  /** First segment of every Redis key. Default `patchbay`. */
  keyNamespace?: string;
}

export interface EventPipelineOptions {
  /** Only `id` (names the Redis keys) and `hs_token` (authenticates the homeserver) are used. */
  registration: Pick<AppserviceRegistration, 'id' | 'hs_token'>;
  redis: RedisConnectionOptions;
  /**
   * The config's host section (partitions, handler_attempts, retry_later_budget_ms, max_body_bytes,
   * metrics, job_takeover_ms are read here); keys left out take the shipped defaults. partitions must
   * match across processes.
   */
  host?: Partial<HostConfig>;
  /** `ingest`: AS API only (patchbay host); `work`: workers only (patchbay worker); `both`: patchbay start. */
  role: PipelineRole;
  /** Required for `work` and `both`: where events go (the plugin runtime). */
  dispatcher?: EventDispatcher;
  /** Answers GET /users/{userId} and GET /rooms/{alias}; without it both answer 404. */
  queries?: QueryResolver;
  /** Answers /thirdparty/*; without it protocols are 404 and reverse lookups empty. */
  thirdParty?: ThirdPartyResolver;
  logger: Logger;
  /** The pipeline's metrics are registered here; /metrics serves this whole registry. */
  metrics: Registry;
  /** The HTTP server (AS API on ingest roles, /health and /metrics on all); null for none. */
  http: EventPipelineHttpOptions | null;
  /** The bridges' HTTP routes, served beside the AS API (the plugin runtime's httpRoutes); absent: none. */
  pluginRoutes?: RequestHandler;
  /**
   * Every job active in Redis belongs to a process that died: this Redis serves no other live worker
   * (patchbay start's own Redis, after it took data_dir over from a killed start). They go back to the
   * head of their queues before the workers start, instead of waiting for their locks to expire.
   */
  previousRunDied?: boolean;
  /** What the status page shows beside the pipeline's own state (it is served whenever there is HTTP). */
  status?: { homeserverUrl: () => string | null; recentErrors: RecentErrors | null };
  tuning?: EventPipelineTuning;
}

const DEFAULT_TTL_SECONDS = 7 * 24 * 3600;

/**
 * The appservice host's event pipeline, composed: AS API -> TransactionIngest -> partition queues in
 * Redis -> PartitionWorker -> EventDispatcher. One class for the three process shapes, chosen by `role`.
 *
 *     const pipeline = createEventPipeline({ ..., role: 'both' });
 *     await pipeline.start();   // listening, consuming
 *     ...
 *     await pipeline.stop();
 */
export class EventPipeline {
  readonly keys: PipelineKeys;
  readonly partitioner: RoomPartitioner;
  readonly metrics: PipelineMetrics;
  /** The host settings in force (the given ones over the shipped defaults). */
  readonly settings: HostConfig;
  private readonly failFast: Redis;
  private readonly workerRedis: Redis | null;
  private readonly queues: PartitionQueues;
  private readonly ledger: EventLedger;
  private readonly deadLetterSet: DeadLetters;
  private readonly ingest: TransactionIngest | null;
  private readonly worker: PartitionWorker | null;
  private readonly assignment: PartitionAssignment | null;
  private readonly server: HostHttpServer | null;
  private readonly healthCheck: PipelineHealth;
  private started = false;

  constructor(private readonly options: EventPipelineOptions) {
    const { registration, role, logger, tuning = {} } = options;
    const host = hostSettings(options.host);
    this.settings = host;
    const ingests = role === 'ingest' || role === 'both';
    const works = role === 'work' || role === 'both';
    if (works && !options.dispatcher) throw new Error(`the '${role}' role needs a dispatcher (the plugin runtime)`);
    const ttl = tuning.dedupeTtlSeconds ?? DEFAULT_TTL_SECONDS;
    this.keys = new PipelineKeys(registration.id, tuning.keyNamespace);
    this.partitioner = new RoomPartitioner(host.partitions);
    this.metrics = PipelineMetrics.for(options.metrics);
    this.failFast = openFailFastRedis(options.redis, `patchbay-${role}`);
    this.workerRedis = works ? openWorkerRedis(options.redis, 'patchbay-worker') : null;
    this.queues = new PartitionQueues({
      connection: this.failFast,
      keys: this.keys,
      partitions: host.partitions,
      logger: logger.child({ component: 'queues' }),
    });
    this.ledger = new EventLedger(this.workerRedis ?? this.failFast, this.keys, ttl);
    this.deadLetterSet = new DeadLetters(this.workerRedis ?? this.failFast, this.keys, this.ledger);
    this.ingest = ingests
      ? new TransactionIngest({
          redis: this.failFast,
          queues: this.queues,
          partitioner: this.partitioner,
          keys: this.keys,
          metrics: this.metrics,
          logger: logger.child({ component: 'ingest' }),
          ttlSeconds: ttl,
          ...(tuning.ingestTimeoutMs !== undefined ? { timeoutMs: tuning.ingestTimeoutMs } : {}),
        })
      : null;
    this.worker =
      works && this.workerRedis && options.dispatcher
        ? new PartitionWorker({
            connection: this.workerRedis,
            keys: this.keys,
            dispatcher: options.dispatcher,
            ledger: this.ledger,
            deadLetters: this.deadLetterSet,
            metrics: this.metrics,
            logger: logger.child({ component: 'worker' }),
            handlerAttempts: host.handler_attempts,
            retryLaterBudgetMs: host.retry_later_budget_ms,
            ...(tuning.retryDelayMs ? { retryDelayMs: tuning.retryDelayMs } : {}),
            // The lock a worker renews while it runs a job, and how often workers look for expired ones.
            lockDurationMs: tuning.lockDurationMs ?? jobTakeoverTiming(host.job_takeover_ms).lockDuration,
            stalledIntervalMs: tuning.stalledIntervalMs ?? jobTakeoverTiming(host.job_takeover_ms).stalledInterval,
          })
        : null;
    const worker = this.worker;
    this.assignment =
      worker && this.workerRedis && !tuning.workerPartitions
        ? new PartitionAssignment({
            redis: this.workerRedis,
            keys: this.keys,
            partitions: host.partitions,
            heartbeatMs: tuning.heartbeatMs ?? Math.min(2_000, Math.round(host.job_takeover_ms / 16)),
            onChange: (partitions) => worker.assign(partitions),
            logger: logger.child({ component: 'assignment' }),
          })
        : null;
    this.healthCheck = new PipelineHealth(this.failFast, this.queues, this.deadLetterSet, role, () => worker?.assigned.length ?? 0, this.keys.base);
    const http = options.http;
    this.server = http
      ? new HostHttpServer({
          bind: http.bind,
          port: http.port,
          appservice: ingests
            ? createAppserviceRouter({
                hsToken: registration.hs_token,
                sink: this.ingest,
                queries: options.queries,
                thirdParty: options.thirdParty,
                metrics: this.metrics,
                logger: logger.child({ component: 'as-api' }),
                maxBodyBytes: host.max_body_bytes,
              })
            : null,
          pluginRoutes: options.pluginRoutes ?? null,
          health: () => this.health(),
          statusPage: createStatusPageRouter({
            access: new StatusAccess(http.bind, host.status_token),
            health: () => this.health(),
            deadLetters: this.deadLetterSet,
            replay: (which) => this.replayDeadLetters(which),
            homeserverUrl: options.status?.homeserverUrl ?? (() => null),
            recentErrors: options.status?.recentErrors ?? null,
            logger: logger.child({ component: 'status-page' }),
          }),
          metrics: host.metrics ? options.metrics : null,
          logger,
        })
      : null;
  }

  /** Connects to Redis, prepares the queues, starts the workers, then opens the HTTP server. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await whenReady(this.failFast);
    if (this.workerRedis) await whenReady(this.workerRedis);
    await this.queues.prepare();
    if (this.options.previousRunDied) {
      const requeued = await this.queues.requeueActive();
      if (requeued > 0) this.options.logger.info({ jobs: requeued }, 'jobs the killed previous run was handling are back at the head of their partitions');
      // Its worker's heartbeats would hold half the partitions until they time out.
      await this.failFast.del(this.keys.workerMembers);
    }
    this.metrics.watchQueues(this.queues);
    if (this.assignment) await this.assignment.start();
    else if (this.worker) await this.worker.assign(this.options.tuning?.workerPartitions ?? []);
    await this.server?.listen();
    this.options.logger.info(
      { role: this.options.role, partitions: this.settings.partitions, appservice: this.options.registration.id },
      'event pipeline started',
    );
  }

  /**
   * Closes the HTTP server, lets running jobs finish (or, with `force`, abandons them to be re-run by
   * another worker), then disconnects.
   */
  async stop(options: { force?: boolean } = {}): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.server?.close();
    await this.assignment?.stop();
    await this.worker?.close(options.force ?? false);
    this.metrics.watchQueues(null);
    await this.queues.close();
    this.failFast.disconnect();
    this.workerRedis?.disconnect();
  }

  /** `http://bind:port` of the HTTP server (null without one). */
  get url(): string | null {
    return this.server?.url ?? null;
  }

  get port(): number | null {
    return this.server?.port ?? null;
  }

  /** Partitions this process consumes now (empty on an ingest-only host). */
  get assignedPartitions(): number[] {
    return this.worker?.assigned ?? [];
  }

  get deadLetters(): DeadLetters {
    return this.deadLetterSet;
  }

  /** Queues dead letters again (all, or these event ids), each room's in their order; see DeadLetterReplay. */
  replayDeadLetters(which: string[] | 'all'): Promise<ReplayOutcome> {
    return new DeadLetterReplay(this.failFast, this.deadLetterSet, this.queues, this.partitioner, this.ledger, this.keys).replay(which);
  }

  health(): Promise<HealthReport> {
    return this.healthCheck.report();
  }
}

export function createEventPipeline(options: EventPipelineOptions): EventPipeline {
  return new EventPipeline(options);
}
