import type { Migration } from '../Migration.js';

export const v14: Migration = {
  version: 14,
  sql: `
-- Federation (docs/federation.md). Other servers' verify keys as fetched and checked, so a restart does
-- not fetch them all again; a key is used only up to its valid_until_ts.
CREATE TABLE IF NOT EXISTS federation_remote_keys (
  server_name TEXT NOT NULL,
  key_id TEXT NOT NULL,
  verify_key TEXT NOT NULL,
  valid_until_ts INTEGER NOT NULL,
  fetched_ts INTEGER NOT NULL,
  PRIMARY KEY (server_name, key_id)
);
-- Media of other servers fetched for local clients: the bytes live in the blob store under blob_id.
CREATE TABLE IF NOT EXISTS remote_media (
  origin TEXT NOT NULL,
  media_id TEXT NOT NULL,
  blob_id TEXT NOT NULL,
  content_type TEXT,
  filename TEXT,
  size INTEGER NOT NULL,
  fetched_ts INTEGER NOT NULL,
  PRIMARY KEY (origin, media_id)
);
`,
};
