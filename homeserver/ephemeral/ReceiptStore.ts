// Read receipts (m.read, m.read.private), persisted and ordered on the shared stream. A receipt only
// moves forward: one for an older event than the current one is kept as it was.
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import type { StreamCounter } from '../storage/StreamCounter.js';

export interface ReceiptRow {
  room_id: string;
  user_id: string;
  receipt_type: string;
  thread_id: string;
  event_id: string;
  ts: number;
  pos: number;
}

export class ReceiptStore {
  private readonly s;

  constructor(
    private readonly db: SqlDatabase,
    private readonly counter: StreamCounter,
  ) {
    this.s = {
      get: db.prepare(
        'SELECT r.*, e.pos AS event_pos FROM receipts r LEFT JOIN events e ON e.event_id = r.event_id WHERE r.room_id = ? AND r.user_id = ? AND r.receipt_type = ? AND r.thread_id = ?',
      ),
      upsert: db.prepare(
        `INSERT INTO receipts (room_id, user_id, receipt_type, thread_id, event_id, ts, pos) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(room_id, user_id, receipt_type, thread_id) DO UPDATE SET event_id = excluded.event_id, ts = excluded.ts, pos = excluded.pos`,
      ),
      since: db.prepare('SELECT * FROM receipts WHERE room_id = ? AND pos > ? ORDER BY pos'),
      roomsAfter: db.prepare('SELECT DISTINCT room_id FROM receipts WHERE pos > ?'),
      readPositions: db.prepare(
        `SELECT r.thread_id, MAX(e.pos) AS p FROM receipts r JOIN events e ON e.event_id = r.event_id
         WHERE r.room_id = ? AND r.user_id = ? AND r.receipt_type IN ('m.read', 'm.read.private') GROUP BY r.thread_id`,
      ),
    };
  }

  /** Stores the receipt; returns it when it moved forward (null when it was older and ignored). */
  set(roomId: string, userId: string, type: string, threadId: string, eventId: string, eventPos: number): ReceiptRow | null {
    return this.db.transaction(() => {
      const old = this.s.get.get(roomId, userId, type, threadId) as (ReceiptRow & { event_pos: number | null }) | undefined;
      if (old && old.event_pos !== null && old.event_pos >= eventPos) return null;
      const row: ReceiptRow = {
        room_id: roomId,
        user_id: userId,
        receipt_type: type,
        thread_id: threadId,
        event_id: eventId,
        ts: Date.now(),
        pos: this.counter.next(),
      };
      this.s.upsert.run(roomId, userId, type, threadId, eventId, row.ts, row.pos);
      return row;
    })();
  }

  since(roomId: string, afterPos: number): ReceiptRow[] {
    return this.s.since.all(roomId, afterPos) as ReceiptRow[];
  }

  roomsWithReceiptsAfter(afterPos: number): Set<string> {
    return new Set((this.s.roomsAfter.all(afterPos) as Array<{ room_id: string }>).map((r) => r.room_id));
  }

  /**
   * How far the user has read the room by their read receipts (public or private, whichever is further):
   * `unthreaded` for the whole room (0: none), `threads` per thread root or `main` for threaded receipts.
   */
  readPositions(roomId: string, userId: string): { unthreaded: number; threads: Map<string, number> } {
    let unthreaded = 0;
    const threads = new Map<string, number>();
    for (const r of this.s.readPositions.all(roomId, userId) as Array<{ thread_id: string; p: number }>) {
      if (r.thread_id === '') unthreaded = r.p;
      else threads.set(r.thread_id, r.p);
    }
    return { unthreaded, threads };
  }
}

/** m.receipt content as sync and appservices carry it; private receipts only for their owner. */
export function receiptContent(rows: ReceiptRow[], forUser: string | null): Record<string, unknown> | null {
  const content: Record<string, Record<string, Record<string, Record<string, unknown>>>> = {};
  let any = false;
  for (const r of rows) {
    if (r.receipt_type === 'm.read.private' && r.user_id !== forUser) continue;
    const byType = (content[r.event_id] ??= {});
    const byUser = (byType[r.receipt_type] ??= {});
    const info: Record<string, unknown> = { ts: r.ts };
    if (r.thread_id !== '') info['thread_id'] = r.thread_id;
    byUser[r.user_id] = info;
    any = true;
  }
  return any ? content : null;
}
