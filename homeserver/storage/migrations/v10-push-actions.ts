import type { Migration } from '../Migration.js';

export const v10: Migration = {
  version: 10,
  sql: `
-- Push rule decisions: one row per event that notifies a user, written with the event. Counts in /sync,
-- GET /notifications and the pushers read them; rows older than the retention are deleted.
CREATE TABLE IF NOT EXISTS event_push_actions (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  pos INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  actions TEXT NOT NULL,
  highlight INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  PRIMARY KEY (user_id, pos)
);
CREATE INDEX IF NOT EXISTS event_push_actions_by_room ON event_push_actions(user_id, room_id, pos);
CREATE INDEX IF NOT EXISTS event_push_actions_by_event ON event_push_actions(event_id);
CREATE INDEX IF NOT EXISTS event_push_actions_by_age ON event_push_actions(ts);
-- HTTP pushers (POST /pushers/set). last_pos: the user's notifications up to this stream position are
-- done (sent, or given up after the retry limit); the sender goes on from there after a restart.
-- failing_since: when its gateway started failing (null while it answers).
CREATE TABLE IF NOT EXISTS pushers (
  user_id TEXT NOT NULL,
  app_id TEXT NOT NULL,
  pushkey TEXT NOT NULL,
  kind TEXT NOT NULL,
  app_display_name TEXT NOT NULL,
  device_display_name TEXT NOT NULL,
  profile_tag TEXT,
  lang TEXT NOT NULL,
  data TEXT NOT NULL,
  device_id TEXT,
  pushkey_ts INTEGER NOT NULL,
  last_pos INTEGER NOT NULL,
  failing_since INTEGER,
  PRIMARY KEY (user_id, app_id, pushkey)
);
CREATE INDEX IF NOT EXISTS pushers_by_key ON pushers(app_id, pushkey);
`,
};
