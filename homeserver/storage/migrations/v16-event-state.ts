import type { Migration } from '../Migration.js';

export const v16: Migration = {
  version: 16,
  sql: `
-- The room state at each event of the graph (events/StateGroups.ts), so an event from another server is
-- judged by the state at its own prev_events, not by what came before it in stream order. A state group
-- is a state written as its changes to a parent group (a whole state when parent is NULL).
CREATE TABLE IF NOT EXISTS state_groups (
  id INTEGER PRIMARY KEY,
  room_id TEXT NOT NULL,
  parent INTEGER,
  delta TEXT NOT NULL,
  chain INTEGER NOT NULL
);
-- The state before and after each timeline event (equal for an event that is not a state event).
CREATE TABLE IF NOT EXISTS event_state (
  event_id TEXT PRIMARY KEY,
  before_group INTEGER NOT NULL,
  after_group INTEGER NOT NULL
);
-- The group matching room_state (the room's current state), which a new local event builds on.
CREATE TABLE IF NOT EXISTS room_state_groups (
  room_id TEXT PRIMARY KEY,
  state_group INTEGER NOT NULL
);
`,
};
