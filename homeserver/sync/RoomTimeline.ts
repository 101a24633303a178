// Reads the newest (or oldest) events of a room that pass a filter, without loading the whole room.
import type { EventStore } from '../events/EventStore.js';
import type { StoredEvent } from '../events/StoredEvent.js';

export interface TimelineSlice {
  /** Oldest first. */
  events: StoredEvent[];
  /** True when more matching events exist beyond the slice. */
  more: boolean;
}

const BATCH = 100;

/** The newest `limit` events in (after, upTo] that pass `keep`, oldest first. */
export function newestEvents(
  store: EventStore,
  roomId: string,
  after: number,
  upTo: number,
  limit: number,
  keep: (e: StoredEvent) => boolean = () => true,
): TimelineSlice {
  const picked: StoredEvent[] = [];
  let upper = upTo;
  for (;;) {
    const batch = store.latestEvents(roomId, after, upper, Math.max(limit + 1, BATCH));
    for (let i = batch.length - 1; i >= 0; i--) {
      const e = batch[i]!;
      if (!keep(e)) continue;
      if (picked.length === limit) return { events: picked.reverse(), more: true };
      picked.push(e);
    }
    if (batch.length < Math.max(limit + 1, BATCH)) break;
    upper = batch[0]!.pos - 1;
  }
  return { events: picked.reverse(), more: false };
}

/** The oldest `limit` events in (after, upTo] that pass `keep`, oldest first. */
export function oldestEvents(
  store: EventStore,
  roomId: string,
  after: number,
  upTo: number,
  limit: number,
  keep: (e: StoredEvent) => boolean = () => true,
): TimelineSlice {
  const picked: StoredEvent[] = [];
  let lower = after;
  for (;;) {
    const batch = store.earliestEvents(roomId, lower, upTo, Math.max(limit + 1, BATCH));
    for (const e of batch) {
      if (!keep(e)) continue;
      if (picked.length === limit) return { events: picked, more: true };
      picked.push(e);
    }
    if (batch.length < Math.max(limit + 1, BATCH)) break;
    lower = batch[batch.length - 1]!.pos;
  }
  return { events: picked, more: false };
}
