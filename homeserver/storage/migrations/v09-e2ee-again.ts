import type { Migration } from '../Migration.js';

export const v09: Migration = {
  version: 9,
  sql: `
-- Safe to run again over its own tables (IF NOT EXISTS, OR IGNORE / OR REPLACE), as version 8.
-- Relations between events (m.relates_to with a rel_type): threads, edits, reactions, references. A row
-- lives as long as its event is not redacted. thread_id is 'main' or the thread root the event belongs to
-- (its own for an m.thread child, its parent's otherwise).
CREATE TABLE IF NOT EXISTS event_relations (
  event_id TEXT PRIMARY KEY,
  pos INTEGER NOT NULL,
  room_id TEXT NOT NULL,
  relates_to TEXT NOT NULL,
  rel_type TEXT NOT NULL,
  type TEXT NOT NULL,
  sender TEXT NOT NULL,
  thread_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS event_relations_by_parent ON event_relations(relates_to, rel_type, pos);
-- Each thread of a room and the position of its newest event, for GET /threads (most recent first).
CREATE TABLE IF NOT EXISTS threads (
  room_id TEXT NOT NULL,
  root_id TEXT NOT NULL,
  latest_pos INTEGER NOT NULL,
  PRIMARY KEY (room_id, root_id)
);
CREATE INDEX IF NOT EXISTS threads_by_activity ON threads(room_id, latest_pos);
-- The relations of the events stored so far.
INSERT OR IGNORE INTO event_relations (event_id, pos, room_id, relates_to, rel_type, type, sender, thread_id)
  SELECT event_id, pos, room_id, json_extract(content, '$."m.relates_to".event_id'), json_extract(content, '$."m.relates_to".rel_type'),
    type, sender,
    CASE WHEN json_extract(content, '$."m.relates_to".rel_type') = 'm.thread' THEN json_extract(content, '$."m.relates_to".event_id') ELSE 'main' END
  FROM events
  WHERE state_key IS NULL AND redacted_by IS NULL
    AND json_type(content, '$."m.relates_to".rel_type') = 'text' AND json_extract(content, '$."m.relates_to".rel_type') != ''
    AND json_type(content, '$."m.relates_to".event_id') = 'text' AND json_extract(content, '$."m.relates_to".event_id') LIKE '$_%';
-- An edit or a reaction belongs to its parent's thread (three levels, as far as the spec asks to look).
UPDATE event_relations SET thread_id = (SELECT p.thread_id FROM event_relations p WHERE p.event_id = event_relations.relates_to)
  WHERE rel_type != 'm.thread' AND relates_to IN (SELECT event_id FROM event_relations);
UPDATE event_relations SET thread_id = (SELECT p.thread_id FROM event_relations p WHERE p.event_id = event_relations.relates_to)
  WHERE rel_type != 'm.thread' AND relates_to IN (SELECT event_id FROM event_relations);
UPDATE event_relations SET thread_id = (SELECT p.thread_id FROM event_relations p WHERE p.event_id = event_relations.relates_to)
  WHERE rel_type != 'm.thread' AND relates_to IN (SELECT event_id FROM event_relations);
INSERT OR REPLACE INTO threads (room_id, root_id, latest_pos)
  SELECT room_id, relates_to, MAX(pos) FROM event_relations WHERE rel_type = 'm.thread' GROUP BY room_id, relates_to;
`,
};
