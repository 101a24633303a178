import type { ChainableCommander, Redis } from 'ioredis';
import type { PipelineKeys } from './PipelineKeys.js';

/** Where an event stands. Absent (expired or never seen) counts as "not handled". */
export type EventState = 'queued' | 'handled' | 'dead';

const CODE: Record<EventState, string> = { queued: 'q', handled: 'd', dead: 'x' };
const STATE: Record<string, EventState> = { q: 'queued', d: 'handled', x: 'dead' };

/**
 * One small Redis key per event id: ingest sets it to `queued` (so a homeserver that replays events
 * under a new txnId does not enqueue them twice) and the worker sets it to `handled` after the handler
 * returned (so a job re-run after a crash skips what is done). Keys expire after `ttlSeconds`; an
 * expired key only costs a possible re-delivery, never a loss.
 */
export class EventLedger {
  constructor(
    private readonly redis: Redis,
    private readonly keys: PipelineKeys,
    readonly ttlSeconds: number,
  ) {}

  /** The stored one-letter code of a state (for Lua scripts that write the ledger). */
  static code(state: EventState): string {
    return CODE[state];
  }

  static decode(raw: string | null): EventState | null {
    return raw === null ? null : (STATE[raw] ?? null);
  }

  async states(eventIds: string[]): Promise<Array<EventState | null>> {
    if (eventIds.length === 0) return [];
    const raw = await this.redis.mget(eventIds.map((id) => this.keys.event(id)));
    return raw.map(EventLedger.decode);
  }

  mark(eventId: string, state: 'handled' | 'dead'): Promise<unknown> {
    return this.redis.set(this.keys.event(eventId), CODE[state], 'EX', this.ttlSeconds);
  }

  markIn(chain: ChainableCommander, eventId: string, state: 'handled' | 'dead'): void {
    chain.set(this.keys.event(eventId), CODE[state], 'EX', this.ttlSeconds);
  }

  /** Counts a start of the event in a re-run job; returns how many such starts there were. */
  async countCrashStart(eventId: string): Promise<number> {
    const key = this.keys.crashStarts(eventId);
    const result = await this.redis.multi().incr(key).expire(key, this.ttlSeconds).exec();
    const [err, n] = result?.[0] ?? [new Error('MULTI aborted'), null];
    if (err) throw err;
    return Number(n);
  }
}
