import type { Migration } from '../Migration.js';

export const v13: Migration = {
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
};
