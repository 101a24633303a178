// Other servers' verify keys in SQLite (federation_remote_keys, migration 14), so RemoteKeyStore keeps
// what it fetched across restarts. A key row is replaced only by a later valid_until_ts.
import type { SqlDatabase } from '../../storage/SqlDatabase.js';
import { decodeBase64, encodeUnpaddedBase64 } from '../signing/UnpaddedBase64.js';
import type { RemoteVerifyKey } from './ServerKeysResponse.js';

/** Where RemoteKeyStore keeps keys beyond its memory. */
export interface RemoteKeyPersistence {
  load(serverName: string): Map<string, RemoteVerifyKey>;
  save(serverName: string, keys: Map<string, RemoteVerifyKey>): void;
}

export class StoredRemoteKeys implements RemoteKeyPersistence {
  private readonly s;

  constructor(db: SqlDatabase) {
    this.s = {
      load: db.prepare('SELECT key_id, verify_key, valid_until_ts FROM federation_remote_keys WHERE server_name = ?'),
      save: db.prepare(
        `INSERT INTO federation_remote_keys (server_name, key_id, verify_key, valid_until_ts, fetched_ts) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(server_name, key_id) DO UPDATE SET verify_key = excluded.verify_key, valid_until_ts = excluded.valid_until_ts,
           fetched_ts = excluded.fetched_ts
         WHERE excluded.valid_until_ts > federation_remote_keys.valid_until_ts`,
      ),
    };
  }

  load(serverName: string): Map<string, RemoteVerifyKey> {
    const rows = this.s.load.all(serverName) as Array<{ key_id: string; verify_key: string; valid_until_ts: number }>;
    const out = new Map<string, RemoteVerifyKey>();
    for (const r of rows) {
      const key = decodeBase64(r.verify_key);
      if (key && key.length === 32) out.set(r.key_id, { key: new Uint8Array(key), validUntilTs: r.valid_until_ts });
    }
    return out;
  }

  save(serverName: string, keys: Map<string, RemoteVerifyKey>): void {
    const now = Date.now();
    for (const [keyId, k] of keys) this.s.save.run(serverName, keyId, encodeUnpaddedBase64(k.key), k.validUntilTs, now);
  }
}
