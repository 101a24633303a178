import type { Migration } from '../Migration.js';

export const v05: Migration = {
  version: 5,
  sql: `
-- GET /devices reports where a device was last seen (matrix-nio wants the key even when unknown).
ALTER TABLE devices ADD COLUMN last_seen_ip TEXT;
`,
};
