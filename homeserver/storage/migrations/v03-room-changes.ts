import type { Migration } from '../Migration.js';

export const v03: Migration = {
  version: 3,
  sql: `
-- Incremental /sync asks "which rooms changed after position P" before looking at any room.
CREATE INDEX receipts_by_stream ON receipts(pos);
`,
};
