// One counter for everything /sync orders: events, receipts, account data, to-device messages and device-list
// changes. Positions are handed out by the single writer (this process), so an in-memory counter seeded from
// the tables is enough.
import type { SqlDatabase } from './SqlDatabase.js';

export class StreamCounter {
  private last: number;

  constructor(db: SqlDatabase) {
    const row = db
      .prepare(
        `SELECT MAX(p) AS p FROM (
           SELECT MAX(pos) AS p FROM events
           UNION ALL SELECT MAX(pos) FROM receipts
           UNION ALL SELECT MAX(pos) FROM account_data
           UNION ALL SELECT MAX(pos) FROM to_device
           UNION ALL SELECT MAX(pos) FROM device_list_changes)`,
      )
      .get() as { p: number | null };
    this.last = row.p ?? 0;
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
