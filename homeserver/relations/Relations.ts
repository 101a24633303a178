// Reading relations for a user: the children of an event (GET /relations), the threads of a room
// (GET /threads) and the bundled aggregations every event-returning endpoint adds. What the user may
// see is HistoryVisibility's: an invisible parent is 404, invisible children and threads are left out.
import type { ClientEventFormatter } from '../events/ClientEventFormatter.js';
import type { EventStore } from '../events/EventStore.js';
import type { StoredEvent } from '../events/StoredEvent.js';
import type { StreamRange } from '../events/StreamRanges.js';
import type { HistoryVisibility, RoomReader } from '../rooms/HistoryVisibility.js';
import { BundledAggregations } from './BundledAggregations.js';
import type { RelationFilter, RelationStore } from './RelationStore.js';

export interface ChildrenPage {
  events: StoredEvent[];
  /** Where the next page starts (a stream position), or null at the end. */
  next: number | null;
}

export interface ThreadsPage {
  roots: StoredEvent[];
  next: number | null;
}

/** Threads looked at per request at most (roots the user may not see are skipped, not counted). */
const MAX_THREADS_SCANNED = 1000;

export class Relations {
  constructor(
    readonly store: RelationStore,
    private readonly events: EventStore,
    private readonly formatter: ClientEventFormatter,
    private readonly history: HistoryVisibility,
  ) {}

  /**
   * Aggregations for one response to `userId`. `known` readers are used as they are; other rooms are
   * read through HistoryVisibility (a room the user may not read gets no aggregations).
   */
  bundle(userId: string, txnKey: string | null, ...known: RoomReader[]): BundledAggregations {
    const readers = new Map<string, RoomReader | null>(known.map((r) => [r.roomId, r]));
    const readerFor = (roomId: string): RoomReader | null => {
      if (!readers.has(roomId)) {
        let reader: RoomReader | null = null;
        try {
          reader = this.history.reader(userId, roomId);
        } catch {
          // No access to the room: nothing of it is bundled.
        }
        readers.set(roomId, reader);
      }
      return readers.get(roomId)!;
    };
    return new BundledAggregations({ relations: this.store, events: this.events, formatter: this.formatter }, userId, txnKey, readerFor);
  }

  /**
   * Children of a visible event within `range`, newest first for `b`, oldest first for `f`: only those
   * the reader may see, at most `limit`.
   */
  children(reader: RoomReader, parent: StoredEvent, filter: RelationFilter, range: StreamRange, dir: 'b' | 'f', limit: number): ChildrenPage {
    const ranges = reader.visible(range.after, range.upTo);
    if (dir === 'b') ranges.reverse();
    const found: StoredEvent[] = [];
    for (const r of ranges) {
      found.push(...this.store.children(reader.roomId, parent.event_id, filter, r, dir, limit + 1 - found.length));
      if (found.length > limit) break;
    }
    if (found.length <= limit) return { events: found, next: null };
    const page = found.slice(0, limit);
    const last = page[page.length - 1]!;
    return { events: page, next: dir === 'b' ? last.pos - 1 : last.pos };
  }

  /** Thread roots the reader may see, most recently active first, whose newest event is before `before`. */
  threads(reader: RoomReader, before: number, limit: number, participatedOnly: boolean): ThreadsPage {
    const roots: StoredEvent[] = [];
    let cursor = before;
    let lastTaken = before;
    let scanned = 0;
    for (;;) {
      const rows = this.store.threads(reader.roomId, cursor, 100);
      if (rows.length === 0) return { roots, next: null };
      for (const row of rows) {
        cursor = row.latest_pos;
        scanned += 1;
        const root = this.events.event(row.root_id);
        if (!root || root.room_id !== reader.roomId || !reader.canSee(root)) continue;
        if (participatedOnly && root.sender !== reader.userId && !this.store.hasParticipated(reader.roomId, root.event_id, reader.userId)) continue;
        if (roots.length === limit) return { roots, next: lastTaken };
        roots.push(root);
        lastTaken = row.latest_pos;
      }
      if (scanned >= MAX_THREADS_SCANNED) return { roots, next: cursor };
    }
  }
}
