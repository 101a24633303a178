import type { Migration } from '../Migration.js';

export const v08: Migration = {
  version: 8,
  sql: `
-- End-to-end encryption (IF NOT EXISTS: a database rewound to an older version re-runs this safely).
-- The server does no cryptography: it keeps what devices publish so that others
-- can encrypt to them, and hands it out as the spec says. Keys are stored as the JSON clients uploaded.
CREATE TABLE IF NOT EXISTS device_keys (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  key_json TEXT NOT NULL,
  PRIMARY KEY (user_id, device_id)
);
-- One-time keys are handed out once, oldest upload first (seq), then deleted.
CREATE TABLE IF NOT EXISTS one_time_keys (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  key_id TEXT NOT NULL,
  key_json TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (user_id, device_id, algorithm, key_id)
);
CREATE INDEX IF NOT EXISTS one_time_keys_by_age ON one_time_keys(user_id, device_id, algorithm, seq);
-- At most one fallback key per device and algorithm; it is handed out when the one-time keys run out.
CREATE TABLE IF NOT EXISTS fallback_keys (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  key_id TEXT NOT NULL,
  key_json TEXT NOT NULL,
  used INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, device_id, algorithm)
);
-- usage: master, self_signing or user_signing; public_key is the key's unpadded base64 public part.
CREATE TABLE IF NOT EXISTS cross_signing_keys (
  user_id TEXT NOT NULL,
  usage TEXT NOT NULL,
  public_key TEXT NOT NULL,
  key_json TEXT NOT NULL,
  PRIMARY KEY (user_id, usage)
);
-- Signatures added by POST /keys/signatures/upload. target_key is a device ID or a cross-signing public key.
CREATE TABLE IF NOT EXISTS key_signatures (
  target_user_id TEXT NOT NULL,
  target_key TEXT NOT NULL,
  signer_user_id TEXT NOT NULL,
  signer_key_id TEXT NOT NULL,
  signature TEXT NOT NULL,
  PRIMARY KEY (target_user_id, target_key, signer_user_id, signer_key_id)
);
-- Each change to a user's devices or keys, on the shared stream: /sync reports the users with a change
-- after its since token. observer '' means everyone sharing a room with the user; a user ID means only
-- that user (a signature only its maker sees).
CREATE TABLE IF NOT EXISTS device_list_changes (
  pos INTEGER PRIMARY KEY,
  user_id TEXT NOT NULL,
  observer TEXT NOT NULL
);
-- Server-side key backups: the backed-up room keys are encrypted by the client; etag changes with them.
CREATE TABLE IF NOT EXISTS key_backup_versions (
  user_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  algorithm TEXT NOT NULL,
  auth_data TEXT NOT NULL,
  etag INTEGER NOT NULL DEFAULT 0,
  deleted INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, version)
);
CREATE TABLE IF NOT EXISTS key_backup_sessions (
  user_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  room_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  first_message_index INTEGER NOT NULL,
  forwarded_count INTEGER NOT NULL,
  is_verified INTEGER NOT NULL,
  session_data TEXT NOT NULL,
  PRIMARY KEY (user_id, version, room_id, session_id)
);
-- Appservices that take to-device messages read them in stream order.
CREATE INDEX IF NOT EXISTS to_device_by_pos ON to_device(pos);
-- The stream position before rows that held the newest positions were deleted (delivered to-device
-- messages): the counter restarts above it, so sync tokens handed out before a restart stay behind.
CREATE TABLE IF NOT EXISTS stream_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  pos INTEGER NOT NULL
);
`,
};
