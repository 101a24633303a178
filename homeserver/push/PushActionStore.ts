// What the push rules decided, per user and event (like Synapse's event_push_actions): a row for each
// event that notifies a user, written in the transaction that appends the event, so the counts in /sync
// and the pushers' work are never behind or ahead of the events. Rows go when their event is redacted
// and when they are older than the retention (30 days), which keeps the table bounded.
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import { MAIN_TIMELINE } from '../relations/RelatesTo.js';

export interface PushActionRow {
  user_id: string;
  room_id: string;
  pos: number;
  event_id: string;
  thread_id: string;
  actions: unknown[];
  highlight: boolean;
  ts: number;
}

interface StoredRow extends Omit<PushActionRow, 'actions' | 'highlight'> {
  actions: string;
  highlight: number;
}

export interface Counts {
  notifications: number;
  highlights: number;
}

/** How far a user has read a room: everything up to `base`, and each thread (or `main`) up to its own receipt. */
export interface ReadPositions {
  base: number;
  threads: ReadonlyMap<string, number>;
}

export interface UnreadCounts {
  /** The main timeline's counts (threads excluded). */
  main: Counts;
  /** Threads with unread notifications, by root. */
  threads: Map<string, Counts>;
}

function fromStored(r: StoredRow): PushActionRow {
  return { ...r, actions: JSON.parse(r.actions) as unknown[], highlight: r.highlight === 1 };
}

export class PushActionStore {
  private readonly s;

  constructor(db: SqlDatabase) {
    this.s = {
      insert: db.prepare(
        `INSERT OR REPLACE INTO event_push_actions (user_id, room_id, pos, event_id, thread_id, actions, highlight, ts)
         VALUES (@user_id, @room_id, @pos, @event_id, @thread_id, @actions, @highlight, @ts)`,
      ),
      removeEvent: db.prepare('DELETE FROM event_push_actions WHERE event_id = ?'),
      countsByThread: db.prepare(
        `SELECT thread_id, COUNT(*) AS n, SUM(highlight) AS h FROM event_push_actions
         WHERE user_id = ? AND room_id = ? AND pos > ? GROUP BY thread_id`,
      ),
      countsInThread: db.prepare(
        'SELECT COUNT(*) AS n, COALESCE(SUM(highlight), 0) AS h FROM event_push_actions WHERE user_id = ? AND room_id = ? AND thread_id = ? AND pos > ?',
      ),
      page: db.prepare('SELECT * FROM event_push_actions WHERE user_id = ? AND pos < ? ORDER BY pos DESC LIMIT ?'),
      highlightPage: db.prepare('SELECT * FROM event_push_actions WHERE user_id = ? AND pos < ? AND highlight = 1 ORDER BY pos DESC LIMIT ?'),
      after: db.prepare('SELECT * FROM event_push_actions WHERE user_id = ? AND pos > ? ORDER BY pos LIMIT ?'),
      roomsOf: db.prepare('SELECT DISTINCT room_id FROM event_push_actions WHERE user_id = ?'),
      prune: db.prepare('DELETE FROM event_push_actions WHERE ts < ?'),
    };
  }

  /** Records a decision; call inside the event's transaction. */
  add(row: PushActionRow): void {
    this.s.insert.run({ ...row, actions: JSON.stringify(row.actions), highlight: row.highlight ? 1 : 0 });
  }

  removeEvent(eventId: string): void {
    this.s.removeEvent.run(eventId);
  }

  /** Unread notifications of one room, split by thread, as the user's receipts leave them. */
  unreadCounts(userId: string, roomId: string, read: ReadPositions): UnreadCounts {
    const byThread = new Map<string, Counts>();
    for (const r of this.s.countsByThread.all(userId, roomId, read.base) as Array<{ thread_id: string; n: number; h: number | null }>) {
      byThread.set(r.thread_id, { notifications: r.n, highlights: r.h ?? 0 });
    }
    // A threaded receipt further on than everything else re-counts its thread from there.
    for (const [thread, pos] of read.threads) {
      if (pos <= read.base || !byThread.has(thread)) continue;
      const r = this.s.countsInThread.get(userId, roomId, thread, pos) as { n: number; h: number };
      if (r.n === 0) byThread.delete(thread);
      else byThread.set(thread, { notifications: r.n, highlights: r.h });
    }
    const main = byThread.get(MAIN_TIMELINE) ?? { notifications: 0, highlights: 0 };
    byThread.delete(MAIN_TIMELINE);
    return { main, threads: byThread };
  }

  /** Rooms the user has any notification rows in (within the retention). */
  roomsWithRows(userId: string): string[] {
    return (this.s.roomsOf.all(userId) as Array<{ room_id: string }>).map((r) => r.room_id);
  }

  /** The user's notifications before `beforePos`, newest first (GET /notifications). */
  page(userId: string, beforePos: number, limit: number, highlightsOnly: boolean): PushActionRow[] {
    const stmt = highlightsOnly ? this.s.highlightPage : this.s.page;
    return (stmt.all(userId, Number.isFinite(beforePos) ? beforePos : Number.MAX_SAFE_INTEGER, limit) as StoredRow[]).map(fromStored);
  }

  /** The user's notifications after `afterPos`, oldest first (what a pusher sends next). */
  after(userId: string, afterPos: number, limit: number): PushActionRow[] {
    return (this.s.after.all(userId, afterPos, limit) as StoredRow[]).map(fromStored);
  }

  /** Deletes rows older than `beforeTs`; returns how many. */
  prune(beforeTs: number): number {
    return this.s.prune.run(beforeTs).changes;
  }
}
