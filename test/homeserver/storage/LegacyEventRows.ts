// Writes room events the way the event store did before schema version 12 (random ids, no PDU, no
// graph), straight into the tables, so migration tests start from what an old database really holds.
import { randomBytes } from 'node:crypto';
import type { SqlDatabase } from '../../../homeserver/storage/SqlDatabase.js';

export interface LegacyEvent {
  room_id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: Record<string, unknown>;
  redacts?: string;
}

export class LegacyEventRows {
  constructor(private readonly db: SqlDatabase) {}

  room(roomId: string, version: string, creator: string): void {
    this.db.prepare('INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES (?, ?, ?, ?)').run(roomId, version, creator, Date.now());
  }

  /** Stores an event as the old EventStore.append did; returns its (random) id and position. */
  event(ev: LegacyEvent): { event_id: string; pos: number } {
    const eventId = `$${randomBytes(24).toString('base64url')}`;
    const pos = ((this.db.prepare('SELECT MAX(pos) AS p FROM events').get() as { p: number | null }).p ?? 0) + 1;
    const replaced =
      ev.state_key === undefined
        ? undefined
        : (this.db.prepare('SELECT event_id FROM room_state WHERE room_id = ? AND type = ? AND state_key = ?').get(ev.room_id, ev.type, ev.state_key) as
            | { event_id: string }
            | undefined);
    this.db
      .prepare(
        `INSERT INTO events (pos, event_id, room_id, sender, type, state_key, content, origin_server_ts, redacts, replaces_state)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(pos, eventId, ev.room_id, ev.sender, ev.type, ev.state_key ?? null, JSON.stringify(ev.content), 1_700_000_000_000 + pos, ev.redacts ?? null, replaced?.event_id ?? null);
    if (ev.state_key !== undefined) {
      this.db
        .prepare(
          `INSERT INTO room_state (room_id, type, state_key, event_id, pos) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id, pos = excluded.pos`,
        )
        .run(ev.room_id, ev.type, ev.state_key, eventId, pos);
      if (ev.type === 'm.room.member') {
        this.db
          .prepare(
            `INSERT INTO memberships (room_id, user_id, membership, event_id, pos, forgotten) VALUES (?, ?, ?, ?, ?, 0)
             ON CONFLICT(room_id, user_id) DO UPDATE SET membership = excluded.membership, event_id = excluded.event_id, pos = excluded.pos`,
          )
          .run(ev.room_id, ev.state_key, String(ev.content['membership']), eventId, pos);
      }
    }
    return { event_id: eventId, pos };
  }

  redact(eventId: string, content: Record<string, unknown>, redactedBy: string): void {
    this.db.prepare('UPDATE events SET content = ?, redacted_by = ? WHERE event_id = ?').run(JSON.stringify(content), redactedBy, eventId);
  }
}
