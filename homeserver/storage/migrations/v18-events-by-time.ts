import type { Migration } from '../Migration.js';

export const v18: Migration = {
  version: 18,
  sql: `
-- Jump to date (rooms/EventsByTimestamp.ts): the events of a room in origin_server_ts order, so a lookup
-- reads the few rows around the time asked for instead of the whole room.
CREATE INDEX IF NOT EXISTS events_by_room_time ON events(room_id, origin_server_ts, pos);
`,
};
