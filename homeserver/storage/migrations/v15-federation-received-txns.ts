import type { Migration } from '../Migration.js';

export const v15: Migration = {
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
};
