// A room's forward extremities: the events nothing names in prev_events yet. A new event takes them as
// its prev_events (at most MAX_PREV_EVENTS, the deepest) and replaces them.
import type { SqlDatabase } from '../storage/SqlDatabase.js';

/** Synapse's cap too: a fork of many extremities is merged a few at a time. */
export const MAX_PREV_EVENTS = 10;

export interface Extremity {
  event_id: string;
  depth: number;
}

export class ForwardExtremities {
  private readonly s;

  constructor(db: SqlDatabase) {
    this.s = {
      of: db.prepare(
        `SELECT f.event_id, p.depth FROM forward_extremities f JOIN event_pdus p ON p.event_id = f.event_id
         WHERE f.room_id = ? ORDER BY p.depth DESC, f.event_id LIMIT ?`,
      ),
      remove: db.prepare('DELETE FROM forward_extremities WHERE room_id = ? AND event_id = ?'),
      add: db.prepare('INSERT OR IGNORE INTO forward_extremities (room_id, event_id) VALUES (?, ?)'),
    };
  }

  /** The room's extremities a new event builds on, deepest first. */
  of(roomId: string, limit = MAX_PREV_EVENTS): Extremity[] {
    return this.s.of.all(roomId, limit) as Extremity[];
  }

  /** `eventId` joins the room's extremities; the events it names as prev_events leave them. */
  advance(roomId: string, eventId: string, prevEvents: readonly string[]): void {
    for (const prev of prevEvents) this.s.remove.run(roomId, prev);
    this.s.add.run(roomId, eventId);
  }
}
