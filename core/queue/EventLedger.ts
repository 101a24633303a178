import type { ChainableCommander, Redis } from 'ioredis';
import type { PipelineKeys } from './PipelineKeys.js';

/** Where an event stands. Absent (expired or never seen) counts as "not handled". */
export type EventState = 'queued' | 'handled' | 'dead';

const CODE: Record<EventState, string> = { queued: 'q', handled: 'd', dead: 'x' };
const STATE: Record<string, EventState> = { q: 'queued', d: 'handled', x: 'dead' };

const MARK_COMMAND = 'patchbayLedgerMark';
// KEYS: event keys. ARGV: state code, ttl seconds.
const MARK_LUA = `
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[1], 'EX', ARGV[2]) end
return #KEYS
`;

/**
 * One small Redis key per event id: ingest sets it to `queued` (so a homeserver that replays events
 * under a new txnId does not enqueue them twice) and the worker sets it to `handled` after the handler
 * returned (so a job re-run after a crash skips what is done). Keys expire after `ttlSeconds`; an
 * expired key only costs a possible re-delivery, never a loss.
 */
export class EventLedger {
  private pending: string[] = [];
  private scheduled: Promise<void> | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly keys: PipelineKeys,
    readonly ttlSeconds: number,
  ) {
    if (typeof (redis as unknown as Record<string, unknown>)[MARK_COMMAND] !== 'function') {
      redis.defineCommand(MARK_COMMAND, { lua: MARK_LUA });
    }
  }

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

  /**
   * Records an event as handled. Marks made in the same turn of the event loop (a run of quick handlers,
   * or several partitions finishing together) go to Redis as one command on the next turn; the promise
   * resolves when this mark is stored.
   */
  markHandled(eventId: string): Promise<void> {
    this.pending.push(this.keys.event(eventId));
    if (!this.scheduled) {
      this.scheduled = new Promise<void>((resolve, reject) => {
        setImmediate(() => {
          const keys = this.pending;
          this.pending = [];
          this.scheduled = null;
          const command = (this.redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[MARK_COMMAND]!;
          command.call(this.redis, keys.length, ...keys, CODE.handled, this.ttlSeconds).then(() => resolve(), reject);
        });
      });
    }
    return this.scheduled;
  }

  markIn(chain: ChainableCommander, eventId: string, state: 'handled' | 'dead'): void {
    chain.set(this.keys.event(eventId), CODE[state], 'EX', this.ttlSeconds);
  }

  /**
   * Takes back one start: the job's run ended because this live worker lost its lock (Redis was away
   * longer than the lock), not because a worker died, so its re-run must not count as a crash. Either
   * order with the re-run's countCrashStart gives the same total.
   */
  async forgiveCrashStart(eventId: string): Promise<void> {
    const key = this.keys.crashStarts(eventId);
    const result = await this.redis.multi().decr(key).expire(key, this.ttlSeconds).exec();
    const [err] = result?.[0] ?? [new Error('MULTI aborted')];
    if (err) throw err;
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
