// Reads the newest (or oldest) events of a room that the reader may see and that pass a filter, up to a
// count and a byte budget, without loading the whole room: only the visible stretches of the stream are
// read, a batch at a time.
import type { EventStore } from '../events/EventStore.js';
import type { ByteBudget } from '../events/ResponseBudget.js';
import type { StoredEvent } from '../events/StoredEvent.js';
import type { StreamRange } from '../events/StreamRanges.js';

export interface TimelineSlice {
  /** Oldest first. */
  events: StoredEvent[];
  /** True when more matching events exist beyond the slice. */
  more: boolean;
}

export interface TimelineOptions {
  keep?: (e: StoredEvent) => boolean;
  /** Ends the slice early (with `more`) once its events would go over this many bytes. */
  budget?: ByteBudget;
  /** Sees each batch read from the store before its events are looked at (to look up their relations at once). */
  onBatch?: (events: readonly StoredEvent[]) => void;
}

const BATCH = 100;

/** The visible events in `ranges` (oldest first, as RoomReader.visible gives them), newest first. */
function* backwards(store: EventStore, roomId: string, ranges: readonly StreamRange[], firstBatch: number, opts: TimelineOptions): Generator<StoredEvent> {
  let size = Math.min(firstBatch, BATCH);
  for (let i = ranges.length - 1; i >= 0; i--) {
    const { after } = ranges[i]!;
    let upper = ranges[i]!.upTo;
    for (;;) {
      const batch = store.latestEvents(roomId, after, upper, size);
      opts.onBatch?.(batch);
      for (let j = batch.length - 1; j >= 0; j--) yield batch[j]!;
      if (batch.length < size) break;
      upper = batch[0]!.pos - 1;
      size = Math.min(size * 2, BATCH);
    }
  }
}

/** The visible events in `ranges`, oldest first. */
function* forwards(store: EventStore, roomId: string, ranges: readonly StreamRange[], firstBatch: number, opts: TimelineOptions): Generator<StoredEvent> {
  let size = Math.min(firstBatch, BATCH);
  for (const { after, upTo } of ranges) {
    let lower = after;
    for (;;) {
      const batch = store.earliestEvents(roomId, lower, upTo, size);
      opts.onBatch?.(batch);
      yield* batch;
      if (batch.length < size) break;
      lower = batch[batch.length - 1]!.pos;
      size = Math.min(size * 2, BATCH);
    }
  }
}

function take(events: Iterable<StoredEvent>, limit: number, opts: TimelineOptions): TimelineSlice {
  const picked: StoredEvent[] = [];
  for (const e of events) {
    if (opts.keep && !opts.keep(e)) continue;
    if (picked.length >= limit || (opts.budget && !opts.budget.take(e))) return { events: picked, more: true };
    picked.push(e);
  }
  return { events: picked, more: false };
}

/** The newest `limit` events in `ranges` that pass the filter, oldest first. */
export function newestEvents(store: EventStore, roomId: string, ranges: readonly StreamRange[], limit: number, opts: TimelineOptions = {}): TimelineSlice {
  const slice = take(backwards(store, roomId, ranges, limit + 1, opts), limit, opts);
  slice.events.reverse();
  return slice;
}

/** The oldest `limit` events in `ranges` that pass the filter, oldest first. */
export function oldestEvents(store: EventStore, roomId: string, ranges: readonly StreamRange[], limit: number, opts: TimelineOptions = {}): TimelineSlice {
  return take(forwards(store, roomId, ranges, limit + 1, opts), limit, opts);
}
