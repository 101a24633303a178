import { createHash } from 'node:crypto';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { openRedis, type RedisConnection } from '../store/RedisConnection.js';
import type { Logger } from 'pino';
import type { MessageMap } from '../plugin-api/index.js';
import { MatrixApiError } from '../plugin-api/MatrixApiError.js';
import type { MatrixIntent } from '../matrix/MatrixIntent.js';
import type { OutboxJobData, OutboxResult } from './OutboxJob.js';
import type { OutboxSettings } from './OutboxQueues.js';
import type { RuntimeKeys } from '../store/BridgeKeyspace.js';
import type { RuntimeMetrics } from '../metrics/RuntimeMetrics.js';

/** What the worker needs of the host: who sends, where the message pairing is recorded. */
export interface OutboxDelivery {
  /** The intent of one of a bridge's ghosts (full user id). */
  ghost(bridge: string, userId: string): MatrixIntent;
  /**
   * Posts as whoever speaks for the bridge in the room: the bot where it is joined, else one of the
   * bridge's ghosts that is, else the bot joining (RoomVoice). Messages without a sender go this way.
   */
  speak(bridge: string, roomId: string, type: string, content: Record<string, unknown>, txnId: string, ts?: number): Promise<string>;
  messagesOf(bridge: string): MessageMap;
}

/** Dead letters kept for inspection and replay. */
const DEAD_LETTERS_KEPT = 10_000;

/**
 * Drains the outbox partitions: one BullMQ worker per partition at concurrency 1. Tries happen inside
 * the processor (a room's next message waits), 429s wait what the homeserver asks without spending a
 * try, and a message that cannot be delivered goes to the dead-letter list with a notice in the room.
 */
export class OutboxWorker {
  private readonly workers: Worker[] = [];
  private readonly redis: Redis;

  constructor(
    connection: RedisConnection,
    private readonly keys: RuntimeKeys,
    private readonly settings: OutboxSettings,
    private readonly delivery: OutboxDelivery,
    private readonly logger: Logger,
    private readonly metrics: RuntimeMetrics,
    /** Which partitions this process drains (default all): lets several processes share the load. */
    private readonly partitions: number[] = [...Array(settings.partitions).keys()],
  ) {
    this.redis = openRedis(connection, { maxRetriesPerRequest: null, connectionName: 'patchbay-outbox-worker' });
  }

  start(): void {
    for (const p of this.partitions) {
      const worker = new Worker<OutboxJobData>(this.keys.outboxQueueName(p), (job) => this.process(job), {
        connection: this.redis,
        prefix: this.keys.outboxQueuePrefix,
        concurrency: 1,
        // As the event pipeline's workers: a killed process's message is taken over after host.job_takeover_ms, not BullMQ's 30-60 s.
        lockDuration: this.settings.jobTakeoverMs,
        stalledInterval: this.settings.jobTakeoverMs,
      });
      worker.on('error', (err) => this.logger.error({ err, partition: p }, 'outbox worker error'));
      // process() dead-letters a message's own failures; this is only reached when Redis itself failed.
      worker.on('failed', (job, err) => this.logger.error({ err, partition: p, txn_id: job?.data.txnId }, 'outbox job failed'));
      this.workers.push(worker);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
    this.workers.length = 0;
    await this.redis.quit().catch(() => undefined);
  }

  /** Delivers one message; never throws for a message's own failure (it is dead-lettered instead). */
  async process(job: Job<OutboxJobData>): Promise<void> {
    const data = job.data;
    const log = this.logger.child({ bridge: data.bridge, room_id: data.roomId, remote_id: data.remoteId, txn_id: data.txnId });
    if (await this.redis.exists(this.keys.outboxResult(data.txnId))) {
      // A replay of a message already delivered (or dead-lettered): wake any waiter, post nothing.
      await this.redis.publish(this.keys.outboxDone, data.txnId);
      return;
    }
    let attempt = 1;
    let rateLimited = 0;
    for (;;) {
      try {
        const eventId = await this.deliver(data, log);
        await this.finish(data.txnId, { eventId });
        this.metrics.outboxSent.inc({ bridge: data.bridge });
        log.debug({ event_id: eventId, attempt }, 'outbox message delivered');
        return;
      } catch (err) {
        if (err instanceof MatrixApiError && err.status === 429) {
          // The homeserver took nothing and said when to come back: that spends no attempt, so a rate
          // limit, however long, never dead-letters a message. The room's later messages wait behind it.
          rateLimited += 1;
          const waitMs = err.retryAfterMs ?? this.backoff(rateLimited);
          log.debug({ waitMs, rate_limited: rateLimited }, 'outbox delivery rate limited; waiting');
          await new Promise((r) => setTimeout(r, waitMs));
          continue;
        }
        const retryable = err instanceof MatrixApiError ? err.transient : !(err instanceof TypeError || err instanceof RangeError);
        if (!retryable || attempt >= this.settings.attempts) {
          await this.deadLetter(data, err, attempt, log);
          return;
        }
        const waitMs = err instanceof MatrixApiError && err.retryAfterMs !== undefined ? err.retryAfterMs : this.backoff(attempt);
        log.warn({ err: describe(err), attempt, waitMs }, 'outbox delivery failed; retrying');
        attempt += 1;
        await new Promise((r) => setTimeout(r, waitMs));
      }
    }
  }

  private backoff(failures: number): number {
    return Math.min(this.settings.maxBackoffMs, this.settings.initialBackoffMs * 2 ** (failures - 1));
  }

  private async deliver(data: OutboxJobData, log: Logger): Promise<string> {
    if (data.senderUserId === null) {
      const eventId = await this.delivery.speak(data.bridge, data.roomId, data.type, data.content, data.txnId, data.timestamp);
      if (data.mapAs) await this.recordMapping(data, eventId, log);
      return eventId;
    }
    const intent = this.delivery.ghost(data.bridge, data.senderUserId);
    if (data.senderProfile) {
      try {
        await intent.setProfile(data.senderProfile);
      } catch (err) {
        // A profile that cannot be set must not hold back the message itself.
        log.warn({ err: describe(err) }, 'could not update the ghost profile');
      }
    }
    const eventId = await intent.sendEventAt(data.roomId, data.type, data.content, data.txnId, data.timestamp);
    if (data.mapAs) await this.recordMapping(data, eventId, log);
    return eventId;
  }

  /** The message is posted: a failure to record its pairing must neither resend nor dead-letter it. */
  private async recordMapping(data: OutboxJobData, eventId: string, log: Logger): Promise<void> {
    if (!data.mapAs) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.delivery.messagesOf(data.bridge).set(data.mapAs, data.roomId, eventId);
        return;
      } catch (err) {
        if (attempt >= this.settings.attempts) {
          log.error({ err: describe(err), event_id: eventId }, 'posted, but the message pairing could not be recorded');
          return;
        }
        await new Promise((r) => setTimeout(r, Math.min(this.settings.maxBackoffMs, this.settings.initialBackoffMs * 2 ** (attempt - 1))));
      }
    }
  }

  private async finish(txnId: string, result: OutboxResult): Promise<void> {
    await this.redis
      .multi()
      .set(this.keys.outboxResult(txnId), JSON.stringify(result), 'EX', this.settings.resultTtlSeconds)
      .publish(this.keys.outboxDone, txnId)
      .exec();
  }

  private async deadLetter(data: OutboxJobData, err: unknown, attempts: number, log: Logger): Promise<void> {
    const reason = shortReason(err);
    log.error({ err: describe(err), attempts }, 'outbox message dead-lettered');
    this.metrics.deadLetters.inc({ bridge: data.bridge, direction: 'to_matrix' });
    await this.redis
      .multi()
      .lpush(this.keys.outboxDeadLetters, JSON.stringify({ job: data, error: reason, attempts, at: Date.now() }))
      .ltrim(this.keys.outboxDeadLetters, 0, DEAD_LETTERS_KEPT - 1)
      .exec();
    await this.finish(data.txnId, { error: reason });
    try {
      // Derived from the message's txnId: a retried dead-lettering posts one notice, not two.
      const noticeTxn = `pbn_${createHash('sha256').update(data.txnId).digest('base64url').slice(0, 40)}`;
      await this.delivery.speak(
        data.bridge,
        data.roomId,
        'm.room.message',
        { msgtype: 'm.notice', body: `⚠️ A ${data.bridge} message (${data.remoteId.slice(0, 80)}) could not be delivered to this room: ${reason}` },
        noticeTxn,
      );
    } catch (noticeErr) {
      log.error({ err: describe(noticeErr) }, 'could not post the dead-letter notice');
    }
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One line for a room notice: the errcode and message, without request paths. */
export function shortReason(err: unknown): string {
  let text: string;
  if (err instanceof MatrixApiError) {
    text = err.status === 0 ? `the homeserver could not be reached (${err.reason})` : `${err.reason} (${err.errcode})`;
  } else {
    text = describe(err);
  }
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
