// The room event closest to a timestamp in one direction (jump to date): `f` the first at or after it,
// `b` the last at or before it, ties by stream position. Read from the events table in origin_server_ts
// order, skipping events the reader may not see; at most MAX_SCANNED events are looked at.
import type { SqlDatabase, SqlStatement } from '../storage/SqlDatabase.js';

export interface TimedEvent {
  pos: number;
  event_id: string;
  origin_server_ts: number;
}

const BATCH = 100;
export const MAX_SCANNED = 2000;

export class EventsByTimestamp {
  private readonly forward: SqlStatement;
  private readonly backward: SqlStatement;

  constructor(db: SqlDatabase) {
    const columns = 'SELECT pos, event_id, origin_server_ts FROM events WHERE room_id = ?';
    this.forward = db.prepare(`${columns} AND origin_server_ts >= ? ORDER BY origin_server_ts ASC, pos ASC LIMIT ? OFFSET ?`);
    this.backward = db.prepare(`${columns} AND origin_server_ts <= ? ORDER BY origin_server_ts DESC, pos DESC LIMIT ? OFFSET ?`);
  }

  closest(roomId: string, ts: number, dir: 'f' | 'b', visible: (e: TimedEvent) => boolean): TimedEvent | null {
    const statement = dir === 'f' ? this.forward : this.backward;
    for (let offset = 0; offset < MAX_SCANNED; offset += BATCH) {
      const rows = statement.all(roomId, ts, BATCH, offset) as TimedEvent[];
      const found = rows.find(visible);
      if (found) return found;
      if (rows.length < BATCH) return null;
    }
    return null;
  }
}
