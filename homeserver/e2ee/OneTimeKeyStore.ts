// One-time and fallback keys. A claim hands out the device's oldest one-time key of the algorithm and
// deletes it in the same statement, so no key is ever given out twice; when none is left the fallback
// key is handed out (and stays, marked used, until the device replaces it).
import { MatrixError } from '../MatrixError.js';
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import type { KeyObject } from './DeviceKeyStore.js';

/** What a claim returns: `{"<algorithm>:<key id>": key}`. */
export type ClaimedKey = Record<string, unknown>;

/** Clients treat a missing count as "unsupported"; Synapse always sends this one, and so do we. */
const ALWAYS_COUNTED = 'signed_curve25519';

export class OneTimeKeyStore {
  private readonly s;

  constructor(private readonly db: SqlDatabase) {
    this.s = {
      get: db.prepare('SELECT key_json FROM one_time_keys WHERE user_id = ? AND device_id = ? AND algorithm = ? AND key_id = ?'),
      nextSeq: db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM one_time_keys WHERE user_id = ? AND device_id = ?'),
      insert: db.prepare(
        'INSERT INTO one_time_keys (user_id, device_id, algorithm, key_id, key_json, seq) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      counts: db.prepare('SELECT algorithm, COUNT(*) AS n FROM one_time_keys WHERE user_id = ? AND device_id = ? GROUP BY algorithm'),
      claim: db.prepare(
        `DELETE FROM one_time_keys WHERE rowid = (
           SELECT rowid FROM one_time_keys WHERE user_id = ? AND device_id = ? AND algorithm = ? ORDER BY seq, key_id LIMIT 1
         ) RETURNING key_id, key_json`,
      ),
      fallback: db.prepare('SELECT key_id, key_json, used FROM fallback_keys WHERE user_id = ? AND device_id = ? AND algorithm = ?'),
      putFallback: db.prepare(
        `INSERT INTO fallback_keys (user_id, device_id, algorithm, key_id, key_json, used) VALUES (?, ?, ?, ?, ?, 0)
         ON CONFLICT(user_id, device_id, algorithm) DO UPDATE SET key_id = excluded.key_id, key_json = excluded.key_json, used = 0`,
      ),
      useFallback: db.prepare('UPDATE fallback_keys SET used = 1 WHERE user_id = ? AND device_id = ? AND algorithm = ?'),
      unusedFallback: db.prepare(
        'SELECT algorithm FROM fallback_keys WHERE user_id = ? AND device_id = ? AND used = 0 ORDER BY algorithm',
      ),
      deleteKeys: db.prepare('DELETE FROM one_time_keys WHERE user_id = ? AND device_id = ?'),
      deleteFallback: db.prepare('DELETE FROM fallback_keys WHERE user_id = ? AND device_id = ?'),
    };
  }

  /**
   * Adds one-time keys (`{"<algorithm>:<key id>": key}`). Re-uploading a key with the same ID and the same
   * content is a no-op (a retried request); the same ID with other content is refused, as Synapse does.
   */
  add(userId: string, deviceId: string, keys: Record<string, KeyObject | string>): void {
    this.db.transaction(() => {
      const seq = (this.s.nextSeq.get(userId, deviceId) as { seq: number }).seq;
      for (const [name, key] of Object.entries(keys)) {
        const { algorithm, keyId } = splitKeyName(name);
        const text = JSON.stringify(key);
        const existing = this.s.get.get(userId, deviceId, algorithm, keyId) as { key_json: string } | undefined;
        if (existing) {
          if (existing.key_json !== text) {
            throw new MatrixError(400, 'M_INVALID_PARAM', `One-time key ${name} already exists with other content`);
          }
          continue;
        }
        this.s.insert.run(userId, deviceId, algorithm, keyId, text, seq);
      }
    })();
  }

  /** Unclaimed one-time keys per algorithm (signed_curve25519 always present). */
  counts(userId: string, deviceId: string): Record<string, number> {
    const out: Record<string, number> = { [ALWAYS_COUNTED]: 0 };
    for (const r of this.s.counts.all(userId, deviceId) as Array<{ algorithm: string; n: number }>) out[r.algorithm] = r.n;
    return out;
  }

  /** The oldest one-time key of the algorithm (deleted), else the fallback key (marked used), else null. */
  claim(userId: string, deviceId: string, algorithm: string): ClaimedKey | null {
    return this.db.transaction(() => {
      const row = this.s.claim.get(userId, deviceId, algorithm) as { key_id: string; key_json: string } | undefined;
      if (row) return { [`${algorithm}:${row.key_id}`]: JSON.parse(row.key_json) as unknown };
      const fallback = this.s.fallback.get(userId, deviceId, algorithm) as { key_id: string; key_json: string } | undefined;
      if (!fallback) return null;
      this.s.useFallback.run(userId, deviceId, algorithm);
      return { [`${algorithm}:${fallback.key_id}`]: JSON.parse(fallback.key_json) as unknown };
    })();
  }

  /**
   * Replaces the fallback key of each algorithm given. The same key uploaded again keeps its used flag
   * (a retry must not make a used key look fresh).
   */
  setFallback(userId: string, deviceId: string, keys: Record<string, KeyObject | string>): void {
    this.db.transaction(() => {
      for (const [name, key] of Object.entries(keys)) {
        const { algorithm, keyId } = splitKeyName(name);
        const text = JSON.stringify(key);
        const current = this.s.fallback.get(userId, deviceId, algorithm) as { key_id: string; key_json: string } | undefined;
        if (current?.key_id === keyId && current.key_json === text) continue;
        this.s.putFallback.run(userId, deviceId, algorithm, keyId, text);
      }
    })();
  }

  unusedFallbackTypes(userId: string, deviceId: string): string[] {
    return (this.s.unusedFallback.all(userId, deviceId) as Array<{ algorithm: string }>).map((r) => r.algorithm);
  }

  deleteDevice(userId: string, deviceId: string): void {
    this.s.deleteKeys.run(userId, deviceId);
    this.s.deleteFallback.run(userId, deviceId);
  }
}

/** `signed_curve25519:AAAAHg` -> algorithm and key ID; a name without both parts is refused. */
export function splitKeyName(name: string): { algorithm: string; keyId: string } {
  const colon = name.indexOf(':');
  if (colon <= 0 || colon === name.length - 1) {
    throw new MatrixError(400, 'M_BAD_JSON', `Key name ${JSON.stringify(name)} must be <algorithm>:<key id>`);
  }
  return { algorithm: name.slice(0, colon), keyId: name.slice(colon + 1) };
}
