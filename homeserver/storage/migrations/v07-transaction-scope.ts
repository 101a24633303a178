import type { Migration } from '../Migration.js';

export const v07: Migration = {
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
};
