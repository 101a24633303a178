import type { Migration } from '../Migration.js';

export const v04: Migration = {
  version: 4,
  sql: `
-- Send-to-device messages wait here until the device's next /sync acknowledges them (since >= pos).
CREATE TABLE to_device (
  pos INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  sender TEXT NOT NULL,
  type TEXT NOT NULL,
  content TEXT NOT NULL
);
CREATE INDEX to_device_by_device ON to_device(user_id, device_id, pos);
`,
};
