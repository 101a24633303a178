import type { Migration } from '../Migration.js';

export const v17: Migration = {
  version: 17,
  sql: `
-- End-to-end encryption across servers (federation/send/DeviceListUpdates.ts, receive/InboundEdus.ts).
-- The device a change of device_list_changes (same pos) is about, for changes everyone sharing a room sees
-- (none: the cross-signing keys), so it can be sent to other servers as an m.device_list_update EDU whose
-- stream_id is the change's position and whose prev_id is the user's previous device change.
CREATE TABLE IF NOT EXISTS device_list_change_devices (
  pos INTEGER PRIMARY KEY,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS device_list_change_devices_by_user ON device_list_change_devices (user_id, pos);
-- The m.direct_to_device messages taken from each server, by message_id: one sent again in another
-- transaction is delivered once. Kept a week.
CREATE TABLE IF NOT EXISTS federation_received_to_device (
  origin TEXT NOT NULL,
  message_id TEXT NOT NULL,
  received_ts INTEGER NOT NULL,
  PRIMARY KEY (origin, message_id)
);
CREATE INDEX IF NOT EXISTS federation_received_to_device_by_ts ON federation_received_to_device (received_ts);
`,
};
