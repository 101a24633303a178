// The SQL EventStore runs: the events table, room state, memberships and client transaction ids.
import type { SqlDatabase } from '../storage/SqlDatabase.js';

const IN_TIMELINE = '(pos > 0 OR NOT EXISTS (SELECT 1 FROM event_pdus p WHERE p.event_id = events.event_id AND p.outlier = 1))';

/** Prepared once per store; their types come from the statements themselves. */
export function eventStatements(db: SqlDatabase) {
  return {
    stateIds: db.prepare('SELECT type, state_key, event_id FROM room_state WHERE room_id = ?'),
    room: db.prepare('SELECT room_id, room_version, creator, created_ts FROM rooms WHERE room_id = ?'),
    insertRoom: db.prepare('INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES (?, ?, ?, ?)'),
    insertEvent: db.prepare(
      `INSERT INTO events (pos, event_id, room_id, sender, type, state_key, content, origin_server_ts, redacts, replaces_state, txn_key, txn_id)
       VALUES (@pos, @event_id, @room_id, @sender, @type, @state_key, @content, @origin_server_ts, @redacts, @replaces_state, @txn_key, @txn_id)`,
    ),
    upsertState: db.prepare(
      `INSERT INTO room_state (room_id, type, state_key, event_id, pos) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id, pos = excluded.pos`,
    ),
    upsertMembership: db.prepare(
      `INSERT INTO memberships (room_id, user_id, membership, event_id, pos, forgotten) VALUES (?, ?, ?, ?, ?, 0)
       ON CONFLICT(room_id, user_id) DO UPDATE SET membership = excluded.membership, event_id = excluded.event_id,
         pos = excluded.pos, forgotten = 0`,
    ),
    insertTxn: db.prepare('INSERT INTO client_txns (txn_key, scope, txn_id, event_id, created_ts) VALUES (?, ?, ?, ?, ?)'),
    txn: db.prepare('SELECT event_id FROM client_txns WHERE txn_key = ? AND scope = ? AND txn_id = ?'),
    event: db.prepare('SELECT * FROM events WHERE event_id = ?'),
    eventAt: db.prepare('SELECT * FROM events WHERE pos = ?'),
    stateEvent: db.prepare(
      `SELECT e.* FROM room_state s JOIN events e ON e.event_id = s.event_id
       WHERE s.room_id = ? AND s.type = ? AND s.state_key = ?`,
    ),
    stateSize: db.prepare('SELECT COUNT(*) AS n FROM room_state WHERE room_id = ?'),
    currentState: db.prepare(
      'SELECT e.* FROM room_state s JOIN events e ON e.event_id = s.event_id WHERE s.room_id = ? ORDER BY e.pos',
    ),
    stateAt: db.prepare(
      `SELECT e.* FROM events e JOIN (
         SELECT MAX(pos) AS p FROM events WHERE room_id = ? AND state_key IS NOT NULL AND pos <= ? GROUP BY type, state_key
       ) s ON e.pos = s.p ORDER BY e.pos`,
    ),
    stateHistory: db.prepare(
      'SELECT pos, content FROM events WHERE room_id = ? AND type = ? AND state_key = ? ORDER BY pos',
    ),
    stateEventAt: db.prepare(
      `SELECT * FROM events WHERE room_id = ? AND type = ? AND state_key = ? AND pos <= ? ORDER BY pos DESC LIMIT 1`,
    ),
    // Timelines: a joined room's state-only rows (outliers below position 0, RemoteEventWriter) are not in them.
    roomEventsDesc: db.prepare(`SELECT * FROM events WHERE room_id = ? AND pos > ? AND pos <= ? AND ${IN_TIMELINE} ORDER BY pos DESC LIMIT ?`),
    roomEventsAsc: db.prepare(`SELECT * FROM events WHERE room_id = ? AND pos > ? AND pos <= ? AND ${IN_TIMELINE} ORDER BY pos ASC LIMIT ?`),
    moveEvent: db.prepare('UPDATE events SET pos = ? WHERE event_id = ?'),
    moveState: db.prepare('UPDATE room_state SET pos = ? WHERE event_id = ?'),
    moveMembership: db.prepare('UPDATE memberships SET pos = ? WHERE event_id = ?'),
    eventsAfter: db.prepare('SELECT * FROM events WHERE pos > ? ORDER BY pos ASC LIMIT ?'),
    head: db.prepare('SELECT MAX(pos) AS p FROM events'),
    roomsChangedAfter: db.prepare('SELECT DISTINCT room_id FROM events WHERE pos > ?'),
    membershipsOfUser: db.prepare('SELECT * FROM memberships WHERE user_id = ?'),
    membership: db.prepare('SELECT * FROM memberships WHERE room_id = ? AND user_id = ?'),
    members: db.prepare('SELECT * FROM memberships WHERE room_id = ? ORDER BY user_id'),
    membersWith: db.prepare('SELECT * FROM memberships WHERE room_id = ? AND membership = ? ORDER BY user_id'),
    joinedCount: db.prepare("SELECT COUNT(*) AS n FROM memberships WHERE room_id = ? AND membership = 'join'"),
    forget: db.prepare('UPDATE memberships SET forgotten = 1 WHERE room_id = ? AND user_id = ?'),
    redact: db.prepare('UPDATE events SET content = ?, redacted_by = ? WHERE event_id = ?'),
    allRooms: db.prepare('SELECT room_id FROM rooms ORDER BY room_id'),
    lastOwn: db.prepare('SELECT MAX(pos) AS p FROM events WHERE room_id = ? AND sender = ?'),
    lowest: db.prepare('SELECT MIN(pos) AS p FROM events'),
  };
}
