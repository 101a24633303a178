import type { Migration } from '../Migration.js';

export const v01: Migration = {
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
};
