// Device identity keys (POST /keys/upload `device_keys`): kept exactly as the device signed them, one
// object per device, handed out by /keys/query.
import type { SqlDatabase } from '../storage/SqlDatabase.js';

export type KeyObject = Record<string, unknown>;

export class DeviceKeyStore {
  private readonly s;

  constructor(db: SqlDatabase) {
    this.s = {
      get: db.prepare('SELECT key_json FROM device_keys WHERE user_id = ? AND device_id = ?'),
      forUser: db.prepare('SELECT device_id, key_json FROM device_keys WHERE user_id = ? ORDER BY device_id'),
      put: db.prepare(
        `INSERT INTO device_keys (user_id, device_id, key_json) VALUES (?, ?, ?)
         ON CONFLICT(user_id, device_id) DO UPDATE SET key_json = excluded.key_json`,
      ),
      delete: db.prepare('DELETE FROM device_keys WHERE user_id = ? AND device_id = ?'),
    };
  }

  /** Stores the device's keys; true when they are new or differ from what was stored. */
  put(userId: string, deviceId: string, keys: KeyObject): boolean {
    const text = JSON.stringify(keys);
    const before = this.s.get.get(userId, deviceId) as { key_json: string } | undefined;
    if (before?.key_json === text) return false;
    this.s.put.run(userId, deviceId, text);
    return true;
  }

  get(userId: string, deviceId: string): KeyObject | null {
    const row = this.s.get.get(userId, deviceId) as { key_json: string } | undefined;
    return row ? (JSON.parse(row.key_json) as KeyObject) : null;
  }

  /** Every device of the user that has published keys, by device ID. */
  forUser(userId: string): Map<string, KeyObject> {
    const rows = this.s.forUser.all(userId) as Array<{ device_id: string; key_json: string }>;
    return new Map(rows.map((r) => [r.device_id, JSON.parse(r.key_json) as KeyObject]));
  }

  delete(userId: string, deviceId: string): boolean {
    return this.s.delete.run(userId, deviceId).changes > 0;
  }
}
