// How large the events of one response may grow, in serialized bytes, besides the count a client asks
// for: `/messages?limit=1000` over events of 60 KiB would otherwise be a 60 MB answer, held in memory
// while it is written. A page stops at its budget and carries the token to go on from (`end`,
// `prev_batch` with `limited: true`), which clients follow anyway; a page of ordinary events never
// gets near one.
import type { StoredEvent } from './StoredEvent.js';

const MiB = 1024 * 1024;

export const RESPONSE_BUDGET = {
  /** The events of one `/messages` answer; `/context` gives half to each side of its event. */
  messagesBytes: 4 * MiB,
  /** One room's timeline in `/sync`. */
  syncRoomBytes: 2 * MiB,
  /** All timelines of one `/sync` answer together; past it, each further room gets its newest event. */
  syncBytes: 8 * MiB,
} as const;

/** Counts events against a number of bytes. The first event always fits, so every page makes progress. */
export class ByteBudget {
  private spent = 0;
  private taken = 0;

  constructor(
    private readonly bytes: number,
    private readonly sizeOf: (e: StoredEvent) => number,
  ) {}

  /** Counts `e` in and returns true, or returns false (counting nothing) when it would go over. */
  take(e: StoredEvent): boolean {
    const size = this.sizeOf(e);
    if (this.taken > 0 && this.spent + size > this.bytes) return false;
    this.spent += size;
    this.taken += 1;
    return true;
  }

  get used(): number {
    return this.spent;
  }
}
