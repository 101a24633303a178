// The room core's schema, one numbered step at a time. Never edit a released step: add a new one.
export interface Migration {
  version: number;
  sql: string;
}

export const CORE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    sql: `
CREATE TABLE users (
  user_id TEXT PRIMARY KEY,
  password_hash TEXT,
  created_ts INTEGER NOT NULL,
  appservice_id TEXT,
  displayname TEXT,
  avatar_url TEXT
);
CREATE TABLE devices (
  user_id TEXT NOT NULL REFERENCES users(user_id),
  device_id TEXT NOT NULL,
  display_name TEXT,
  created_ts INTEGER NOT NULL,
  last_seen_ts INTEGER,
  PRIMARY KEY (user_id, device_id)
);
CREATE TABLE access_tokens (
  token TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(user_id),
  device_id TEXT NOT NULL,
  created_ts INTEGER NOT NULL
);
CREATE INDEX access_tokens_by_device ON access_tokens(user_id, device_id);

CREATE TABLE rooms (
  room_id TEXT PRIMARY KEY,
  room_version TEXT NOT NULL,
  creator TEXT NOT NULL,
  created_ts INTEGER NOT NULL
);
-- pos is the stream position: one counter shared with receipts and account data gives sync a total order.
CREATE TABLE events (
  pos INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  room_id TEXT NOT NULL,
  sender TEXT NOT NULL,
  type TEXT NOT NULL,
  state_key TEXT,
  content TEXT NOT NULL,
  origin_server_ts INTEGER NOT NULL,
  redacts TEXT,
  replaces_state TEXT,
  redacted_by TEXT,
  txn_key TEXT,
  txn_id TEXT
);
CREATE INDEX events_by_room ON events(room_id, pos);
CREATE INDEX events_state_history ON events(room_id, type, state_key, pos) WHERE state_key IS NOT NULL;
CREATE TABLE room_state (
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  state_key TEXT NOT NULL,
  event_id TEXT NOT NULL,
  pos INTEGER NOT NULL,
  PRIMARY KEY (room_id, type, state_key)
);
CREATE TABLE memberships (
  room_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  membership TEXT NOT NULL,
  event_id TEXT NOT NULL,
  pos INTEGER NOT NULL,
  forgotten INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (room_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships(user_id, membership);
CREATE TABLE client_txns (
  txn_key TEXT NOT NULL,
  kind TEXT NOT NULL,
  txn_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  created_ts INTEGER NOT NULL,
  PRIMARY KEY (txn_key, kind, txn_id)
);

CREATE TABLE room_aliases (
  alias TEXT PRIMARY KEY,
  room_id TEXT NOT NULL,
  creator TEXT NOT NULL,
  created_ts INTEGER NOT NULL
);
CREATE INDEX room_aliases_by_room ON room_aliases(room_id);
-- The main directory has appservice_id = network_id = ''; appservices publish per network.
CREATE TABLE public_rooms (
  appservice_id TEXT NOT NULL,
  network_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  PRIMARY KEY (appservice_id, network_id, room_id)
);

CREATE TABLE receipts (
  room_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  receipt_type TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  pos INTEGER NOT NULL,
  PRIMARY KEY (room_id, user_id, receipt_type, thread_id)
);
CREATE INDEX receipts_by_pos ON receipts(room_id, pos);
CREATE TABLE account_data (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  content TEXT NOT NULL,
  pos INTEGER NOT NULL,
  PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX account_data_by_pos ON account_data(user_id, pos);
CREATE TABLE filters (
  user_id TEXT NOT NULL,
  filter_id INTEGER NOT NULL,
  filter TEXT NOT NULL,
  PRIMARY KEY (user_id, filter_id)
);
CREATE TABLE media (
  media_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  content_type TEXT,
  filename TEXT,
  size INTEGER,
  created_ts INTEGER NOT NULL,
  uploaded INTEGER NOT NULL DEFAULT 0
);
`,
  },
  {
    version: 2,
    sql: `
-- A user's own push rules and their changes to the server defaults (enabled, actions), as one document.
CREATE TABLE push_rules (
  user_id TEXT PRIMARY KEY,
  doc TEXT NOT NULL
);
`,
  },
  {
    version: 3,
    sql: `
-- Incremental /sync asks "which rooms changed after position P" before looking at any room.
CREATE INDEX receipts_by_stream ON receipts(pos);
`,
  },
  {
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
  },
  {
    version: 5,
    sql: `
-- GET /devices reports where a device was last seen (matrix-nio wants the key even when unknown).
ALTER TABLE devices ADD COLUMN last_seen_ip TEXT;
`,
  },
  {
    version: 6,
    sql: `
-- OpenID tokens (POST /user/{userId}/openid/request_token): they prove who a user is to widgets and
-- integrations, through /_matrix/federation/v1/openid/userinfo, and to nothing else.
CREATE TABLE openid_tokens (
  token TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  expires_ts INTEGER NOT NULL
);
CREATE INDEX openid_tokens_by_expiry ON openid_tokens(expires_ts);
`,
  },
  {
    version: 7,
    sql: `
-- Transaction ids are scoped to the device and the request path, not the device alone: the same txnId
-- sent to room A and then to room B is two messages. scope is the path as a JSON array (TxnKey.ts builds
-- it the same way): ["send", room, type], ["redact", room, event], ["to_device", type].
CREATE TABLE client_txns_by_path (
  txn_key TEXT NOT NULL,
  scope TEXT NOT NULL,
  txn_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  created_ts INTEGER NOT NULL,
  PRIMARY KEY (txn_key, scope, txn_id)
);
-- Earlier records keep answering retries: their events tell the room and type or target. A 'redact'
-- record came from PUT /redact or from PUT /send/m.room.redaction, so it keeps both paths. Send-to-device
-- records name no event type and cannot be placed: they are dropped.
INSERT OR IGNORE INTO client_txns_by_path (txn_key, scope, txn_id, event_id, created_ts)
  SELECT t.txn_key, json_array('send', e.room_id, e.type), t.txn_id, t.event_id, t.created_ts
  FROM client_txns t JOIN events e ON e.event_id = t.event_id WHERE t.kind = 'send';
INSERT OR IGNORE INTO client_txns_by_path (txn_key, scope, txn_id, event_id, created_ts)
  SELECT t.txn_key, json_array('redact', e.room_id, e.redacts), t.txn_id, t.event_id, t.created_ts
  FROM client_txns t JOIN events e ON e.event_id = t.event_id WHERE t.kind = 'redact' AND e.redacts IS NOT NULL;
INSERT OR IGNORE INTO client_txns_by_path (txn_key, scope, txn_id, event_id, created_ts)
  SELECT t.txn_key, json_array('send', e.room_id, 'm.room.redaction'), t.txn_id, t.event_id, t.created_ts
  FROM client_txns t JOIN events e ON e.event_id = t.event_id WHERE t.kind = 'redact';
DROP TABLE client_txns;
ALTER TABLE client_txns_by_path RENAME TO client_txns;
`,
  },
  {
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
  },
  {
    version: 9,
    sql: `
-- Safe to run again over its own tables (IF NOT EXISTS, OR IGNORE / OR REPLACE), as version 8.
-- Relations between events (m.relates_to with a rel_type): threads, edits, reactions, references. A row
-- lives as long as its event is not redacted. thread_id is 'main' or the thread root the event belongs to
-- (its own for an m.thread child, its parent's otherwise).
CREATE TABLE IF NOT EXISTS event_relations (
  event_id TEXT PRIMARY KEY,
  pos INTEGER NOT NULL,
  room_id TEXT NOT NULL,
  relates_to TEXT NOT NULL,
  rel_type TEXT NOT NULL,
  type TEXT NOT NULL,
  sender TEXT NOT NULL,
  thread_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS event_relations_by_parent ON event_relations(relates_to, rel_type, pos);
-- Each thread of a room and the position of its newest event, for GET /threads (most recent first).
CREATE TABLE IF NOT EXISTS threads (
  room_id TEXT NOT NULL,
  root_id TEXT NOT NULL,
  latest_pos INTEGER NOT NULL,
  PRIMARY KEY (room_id, root_id)
);
CREATE INDEX IF NOT EXISTS threads_by_activity ON threads(room_id, latest_pos);
-- The relations of the events stored so far.
INSERT OR IGNORE INTO event_relations (event_id, pos, room_id, relates_to, rel_type, type, sender, thread_id)
  SELECT event_id, pos, room_id, json_extract(content, '$."m.relates_to".event_id'), json_extract(content, '$."m.relates_to".rel_type'),
    type, sender,
    CASE WHEN json_extract(content, '$."m.relates_to".rel_type') = 'm.thread' THEN json_extract(content, '$."m.relates_to".event_id') ELSE 'main' END
  FROM events
  WHERE state_key IS NULL AND redacted_by IS NULL
    AND json_type(content, '$."m.relates_to".rel_type') = 'text' AND json_extract(content, '$."m.relates_to".rel_type') != ''
    AND json_type(content, '$."m.relates_to".event_id') = 'text' AND json_extract(content, '$."m.relates_to".event_id') LIKE '$_%';
-- An edit or a reaction belongs to its parent's thread (three levels, as far as the spec asks to look).
UPDATE event_relations SET thread_id = (SELECT p.thread_id FROM event_relations p WHERE p.event_id = event_relations.relates_to)
  WHERE rel_type != 'm.thread' AND relates_to IN (SELECT event_id FROM event_relations);
UPDATE event_relations SET thread_id = (SELECT p.thread_id FROM event_relations p WHERE p.event_id = event_relations.relates_to)
  WHERE rel_type != 'm.thread' AND relates_to IN (SELECT event_id FROM event_relations);
UPDATE event_relations SET thread_id = (SELECT p.thread_id FROM event_relations p WHERE p.event_id = event_relations.relates_to)
  WHERE rel_type != 'm.thread' AND relates_to IN (SELECT event_id FROM event_relations);
INSERT OR REPLACE INTO threads (room_id, root_id, latest_pos)
  SELECT room_id, relates_to, MAX(pos) FROM event_relations WHERE rel_type = 'm.thread' GROUP BY room_id, relates_to;
`,
  },
  {
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
  },
  {
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
  },
  {
    version: 12,
    sql: `
-- Events as PDUs (room versions 10 and 11): each event's signed federation form, as canonical JSON, byte
-- for byte what was signed (redacted in place when the event is). depth is the PDU's, for prev_events.
-- legacy_id = 1: the event was stored before PDUs and keeps its old random id, which is not its reference
-- hash, so no other server accepts it (the homeserver signs these rows once at its next start).
-- Events from other servers: outlier = 1, known but outside the timeline and state; soft_failed = 1,
-- allowed by the state before it but not the current one (kept out of the timeline); rejected: why its
-- auth checks failed (never used for anything but refusing events that cite it). Only timeline events
-- (none of the three) have a row in events.
CREATE TABLE IF NOT EXISTS event_pdus (
  event_id TEXT PRIMARY KEY,
  room_id TEXT NOT NULL,
  depth INTEGER NOT NULL,
  pdu TEXT NOT NULL,
  legacy_id INTEGER NOT NULL DEFAULT 0,
  outlier INTEGER NOT NULL DEFAULT 0,
  soft_failed INTEGER NOT NULL DEFAULT 0,
  rejected TEXT
);
-- A room's forward extremities: its events no other event names in prev_events yet. A new local event
-- takes them as its prev_events. One row per local-only room.
CREATE TABLE IF NOT EXISTS forward_extremities (
  room_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  PRIMARY KEY (room_id, event_id)
);
-- Rooms whose events were stored before this version: signed (with a DAG chained in stream order) by
-- LegacyPduUpgrade at the next start, which then deletes the row.
CREATE TABLE IF NOT EXISTS legacy_pdu_rooms (room_id TEXT PRIMARY KEY);
INSERT OR IGNORE INTO legacy_pdu_rooms (room_id) SELECT DISTINCT room_id FROM events;
`,
  },
  {
    version: 13,
    sql: `
-- Outbound federation (federation/send/): what waits for each destination server, stored before any send.
-- kind is 'pdu' or 'edu'; body is the canonical JSON sent; an EDU with a coalesce_key (typing per room and
-- user, presence per user, a receipt per room, user and type) replaces the waiting one with the same key.
CREATE TABLE IF NOT EXISTS federation_outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  destination TEXT NOT NULL,
  kind TEXT NOT NULL,
  event_id TEXT,
  coalesce_key TEXT,
  body TEXT NOT NULL,
  created_ts INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS federation_outbox_by_destination ON federation_outbox(destination, kind, seq);
CREATE INDEX IF NOT EXISTS federation_outbox_by_key ON federation_outbox(destination, coalesce_key) WHERE coalesce_key IS NOT NULL;
-- The one transaction in flight per destination: built (and its rows taken from the outbox) in one SQLite
-- transaction, resent with the same txn_id and body until the destination answers 200.
CREATE TABLE IF NOT EXISTS federation_transactions (
  destination TEXT PRIMARY KEY,
  txn_id TEXT NOT NULL,
  body TEXT NOT NULL,
  event_ids TEXT NOT NULL,
  pdu_count INTEGER NOT NULL,
  edu_count INTEGER NOT NULL,
  created_ts INTEGER NOT NULL
);
-- Per destination: txn ids are <random prefix>.<counter>, so they never repeat even after the database is
-- recreated; dropped_pdus counts PDUs discarded beyond the per-destination cap.
CREATE TABLE IF NOT EXISTS federation_destinations (
  destination TEXT PRIMARY KEY,
  txn_prefix TEXT NOT NULL,
  next_txn INTEGER NOT NULL,
  dropped_pdus INTEGER NOT NULL DEFAULT 0
);
`,
  },
  {
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
  },
  {
    version: 15,
    sql: `
-- Inbound federation (federation/receive/): each transaction another server sent, with the answer given, so
-- a retried PUT /send/{txnId} is answered the same way without processing its PDUs and EDUs again.
CREATE TABLE IF NOT EXISTS federation_received_txns (
  origin TEXT NOT NULL,
  txn_id TEXT NOT NULL,
  response TEXT NOT NULL,
  received_ts INTEGER NOT NULL,
  PRIMARY KEY (origin, txn_id)
);
`,
  },
];
