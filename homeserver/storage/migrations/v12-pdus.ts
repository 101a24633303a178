import type { Migration } from '../Migration.js';

export const v12: Migration = {
  version: 12,
  sql: `
-- Events as PDUs (room versions 10 and 11): each event's signed federation form, as canonical JSON, byte
-- for byte what was signed (redacted in place when the event is). depth is the PDU's, for prev_events.
-- legacy_id = 1: the event was stored before PDUs and keeps its old random id, which is not its reference
-- hash, so no other server accepts it (the homeserver signs these rows once at its next start).
-- Events from other servers: outlier = 1, known but outside the timeline and state; soft_failed = 1,
-- allowed by the state before it but not the current one (kept out of the timeline); rejected: why its
-- auth checks failed (never used for anything but refusing events that cite it). Only timeline events
-- (none of the three) have a row in events.
CREATE TABLE IF NOT EXISTS event_pdus (
  event_id TEXT PRIMARY KEY,
  room_id TEXT NOT NULL,
  depth INTEGER NOT NULL,
  pdu TEXT NOT NULL,
  legacy_id INTEGER NOT NULL DEFAULT 0,
  outlier INTEGER NOT NULL DEFAULT 0,
  soft_failed INTEGER NOT NULL DEFAULT 0,
  rejected TEXT
);
-- A room's forward extremities: its events no other event names in prev_events yet. A new local event
-- takes them as its prev_events. One row per local-only room.
CREATE TABLE IF NOT EXISTS forward_extremities (
  room_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  PRIMARY KEY (room_id, event_id)
);
-- Rooms whose events were stored before this version: signed (with a DAG chained in stream order) by
-- LegacyPduUpgrade at the next start, which then deletes the row.
CREATE TABLE IF NOT EXISTS legacy_pdu_rooms (room_id TEXT PRIMARY KEY);
INSERT OR IGNORE INTO legacy_pdu_rooms (room_id) SELECT DISTINCT room_id FROM events;
`,
};
