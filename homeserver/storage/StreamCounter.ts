// One counter for everything /sync orders: events, receipts, account data, to-device messages and device-list
// changes. Positions are handed out by the single writer (this process), so an in-memory counter seeded from
// the tables is enough, with one exception: delivered to-device messages are deleted, and they may have held
// the newest positions. Whoever deletes calls persist() first, and the seed includes what it wrote.
import type { SqlDatabase } from './SqlDatabase.js';

export class StreamCounter {
  private last: number;
  private readonly saveHead;

  constructor(db: SqlDatabase) {
    const row = db
      .prepare(
        `SELECT MAX(p) AS p FROM (
           SELECT MAX(pos) AS p FROM events
           UNION ALL SELECT MAX(pos) FROM receipts
           UNION ALL SELECT MAX(pos) FROM account_data
           UNION ALL SELECT MAX(pos) FROM to_device
           UNION ALL SELECT MAX(pos) FROM device_list_changes
           UNION ALL SELECT MAX(pos) FROM stream_head)`,
      )
      .get() as { p: number | null };
    this.last = row.p ?? 0;
    this.saveHead = db.prepare(
      'INSERT INTO stream_head (id, pos) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET pos = MAX(pos, excluded.pos)',
    );
  }

  /** Writes the current position down; call (in the same transaction) before deleting stream rows. */
  persist(): void {
    this.saveHead.run(this.last);
  }

  /** The next position; call inside the transaction that writes it. */
  next(): number {
    this.last += 1;
    return this.last;
  }

  /** The highest position handed out (committed or, within a running transaction, about to be). */
  current(): number {
    return this.last;
  }
}
