import type { Migration } from '../Migration.js';

export const v11: Migration = {
  version: 11,
  sql: `
-- Full-text search over what POST /search looks at: message bodies, room names and topics. rowid is the
-- event's stream position; a row lives as long as its event is not redacted.
CREATE VIRTUAL TABLE IF NOT EXISTS event_search USING fts5(value, key UNINDEXED, room_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 2');
DELETE FROM event_search;
INSERT INTO event_search (rowid, value, key, room_id)
  SELECT pos, json_extract(content, '$.body'), 'content.body', room_id FROM events
  WHERE type = 'm.room.message' AND state_key IS NULL AND redacted_by IS NULL AND json_type(content, '$.body') = 'text';
INSERT INTO event_search (rowid, value, key, room_id)
  SELECT pos, json_extract(content, '$.name'), 'content.name', room_id FROM events
  WHERE type = 'm.room.name' AND state_key = '' AND redacted_by IS NULL AND json_type(content, '$.name') = 'text';
INSERT INTO event_search (rowid, value, key, room_id)
  SELECT pos, json_extract(content, '$.topic'), 'content.topic', room_id FROM events
  WHERE type = 'm.room.topic' AND state_key = '' AND redacted_by IS NULL AND json_type(content, '$.topic') = 'text';
`,
};
