// Filters uploaded with POST /user/{userId}/filter, numbered per user.
import type { SqlDatabase } from '../storage/SqlDatabase.js';

export class FilterStore {
  private readonly s;

  constructor(private readonly db: SqlDatabase) {
    this.s = {
      max: db.prepare('SELECT MAX(filter_id) AS m FROM filters WHERE user_id = ?'),
      same: db.prepare('SELECT filter_id FROM filters WHERE user_id = ? AND filter = ?'),
      insert: db.prepare('INSERT INTO filters (user_id, filter_id, filter) VALUES (?, ?, ?)'),
      get: db.prepare('SELECT filter FROM filters WHERE user_id = ? AND filter_id = ?'),
    };
  }

  /** Stores the filter (an identical one is reused) and returns its ID. */
  create(userId: string, filter: Record<string, unknown>): string {
    const json = JSON.stringify(filter);
    return this.db.transaction(() => {
      const same = this.s.same.get(userId, json) as { filter_id: number } | undefined;
      if (same) return String(same.filter_id);
      const next = ((this.s.max.get(userId) as { m: number | null }).m ?? -1) + 1;
      this.s.insert.run(userId, next, json);
      return String(next);
    })();
  }

  get(userId: string, filterId: string): Record<string, unknown> | null {
    if (!/^\d{1,15}$/.test(filterId)) return null;
    const row = this.s.get.get(userId, Number(filterId)) as { filter: string } | undefined;
    return row ? (JSON.parse(row.filter) as Record<string, unknown>) : null;
  }
}
