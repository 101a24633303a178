// Per-user account data, global (room_id '') and per room, ordered on the shared stream for /sync.
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import type { StreamCounter } from '../storage/StreamCounter.js';

export interface AccountDataRow {
  room_id: string;
  type: string;
  content: Record<string, unknown>;
  pos: number;
}

export class AccountDataStore {
  private readonly s;
  private readonly listeners = new Set<(userId: string) => void>();

  constructor(
    db: SqlDatabase,
    private readonly counter: StreamCounter,
  ) {
    this.s = {
      upsert: db.prepare(
        `INSERT INTO account_data (user_id, room_id, type, content, pos) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(user_id, room_id, type) DO UPDATE SET content = excluded.content, pos = excluded.pos`,
      ),
      get: db.prepare('SELECT content FROM account_data WHERE user_id = ? AND room_id = ? AND type = ?'),
      since: db.prepare('SELECT room_id, type, content, pos FROM account_data WHERE user_id = ? AND pos > ? ORDER BY pos'),
    };
  }

  set(userId: string, roomId: string | null, type: string, content: Record<string, unknown>): number {
    const pos = this.counter.next();
    this.s.upsert.run(userId, roomId ?? '', type, JSON.stringify(content), pos);
    for (const l of [...this.listeners]) l(userId);
    return pos;
  }

  /** Called on every change (possibly inside a transaction that is about to commit). */
  onChange(listener: (userId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(userId: string, roomId: string | null, type: string): Record<string, unknown> | null {
    const row = this.s.get.get(userId, roomId ?? '', type) as { content: string } | undefined;
    return row ? (JSON.parse(row.content) as Record<string, unknown>) : null;
  }

  /** Everything that changed after `afterPos` (0: all). */
  since(userId: string, afterPos: number): AccountDataRow[] {
    return (this.s.since.all(userId, afterPos) as Array<{ room_id: string; type: string; content: string; pos: number }>).map(
      (r) => ({ ...r, content: JSON.parse(r.content) as Record<string, unknown> }),
    );
  }
}
