import type { Migration } from '../Migration.js';

export const v02: Migration = {
  version: 2,
  sql: `
-- A user's own push rules and their changes to the server defaults (enabled, actions), as one document.
CREATE TABLE push_rules (
  user_id TEXT PRIMARY KEY,
  doc TEXT NOT NULL
);
`,
};
