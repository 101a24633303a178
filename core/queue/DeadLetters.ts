import type { Redis } from 'ioredis';
import type { MatrixEvent } from '../plugin-api/index.js';
import type { EventLedger } from './EventLedger.js';
import type { PipelineKeys } from './PipelineKeys.js';

/** An event that failed all its tries, kept with what went wrong. */
export interface DeadLetter {
  event: MatrixEvent;
  /** The last error's message. */
  error: string;
  attempts: number;
  /** Milliseconds since the epoch when it was dead-lettered. */
  time: number;
  partition: number;
  /** Order among letters of the same millisecond (absent in records from before it was kept). */
  seq?: number;
}

/** Oldest first: by time, then (within a millisecond, where the time index orders by id) by seq. */
export function byDeadLetterOrder(a: DeadLetter, b: DeadLetter): number {
  return a.time - b.time || (a.seq ?? 0) - (b.seq ?? 0);
}

/**
 * The dead-letter set: a hash of records by event id plus a time index, in Redis next to the queues.
 * Records stay until removed (an operator inspects them, fixes the cause and replays or drops them).
 */
export class DeadLetters {
  constructor(
    private readonly redis: Redis,
    private readonly keys: PipelineKeys,
    private readonly ledger: EventLedger,
  ) {}

  /** Stores the record and marks the event dead in one MULTI, so a re-run job skips it. */
  async add(letter: DeadLetter): Promise<void> {
    const id = letter.event.event_id;
    const seq = await this.redis.incr(`${this.keys.deadLetters}:seq`);
    const multi = this.redis.multi();
    multi.hset(this.keys.deadLetters, id, JSON.stringify({ ...letter, seq }));
    multi.zadd(this.keys.deadLettersByTime, letter.time, id);
    this.ledger.markIn(multi, id, 'dead');
    const result = await multi.exec();
    if (!result) throw new Error('dead letter MULTI was aborted');
    for (const [err] of result) if (err) throw err;
  }

  count(): Promise<number> {
    return this.redis.hlen(this.keys.deadLetters);
  }

  async get(eventId: string): Promise<DeadLetter | null> {
    const raw = await this.redis.hget(this.keys.deadLetters, eventId);
    return raw === null ? null : (JSON.parse(raw) as DeadLetter);
  }

  /** Newest first. */
  async list(limit = 100, offset = 0): Promise<DeadLetter[]> {
    const ids = await this.redis.zrevrange(this.keys.deadLettersByTime, offset, offset + limit - 1);
    return (await this.records(ids)).sort((a, b) => byDeadLetterOrder(b, a));
  }

  /** Every letter, oldest first. */
  async all(): Promise<DeadLetter[]> {
    const ids = await this.redis.zrange(this.keys.deadLettersByTime, 0, -1);
    return (await this.records(ids)).sort(byDeadLetterOrder);
  }

  private async records(ids: string[]): Promise<DeadLetter[]> {
    if (ids.length === 0) return [];
    const raws = await this.redis.hmget(this.keys.deadLetters, ...ids);
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as DeadLetter);
  }

  /** Drops the record (the event stays marked dead, so a replayed transaction does not re-run it). */
  async remove(eventId: string): Promise<boolean> {
    const result = await this.redis.multi().hdel(this.keys.deadLetters, eventId).zrem(this.keys.deadLettersByTime, eventId).exec();
    return Number(result?.[0]?.[1] ?? 0) > 0;
  }
}
