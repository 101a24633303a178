// Cross-signing keys (master, self-signing, user-signing) and the signatures uploaded for keys after they
// were published. Who sees a signature follows Synapse: everyone sees the signatures a user made on their
// own keys (self-signing on devices, a device on the master key); a signature on someone else's master
// key (user-signing) is seen only by the user who made it.
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import type { KeyObject } from './DeviceKeyStore.js';

export type CrossSigningUsage = 'master' | 'self_signing' | 'user_signing';

export const CROSS_SIGNING_USAGES: readonly CrossSigningUsage[] = ['master', 'self_signing', 'user_signing'];

export interface CrossSigningKey {
  usage: CrossSigningUsage;
  /** The unpadded base64 public key (the part after `ed25519:`). */
  publicKey: string;
  key: KeyObject;
}

export interface Signature {
  targetUserId: string;
  /** A device ID or a cross-signing public key. */
  targetKey: string;
  signerUserId: string;
  /** e.g. `ed25519:<self-signing public key>` or `ed25519:<device ID>`. */
  signerKeyId: string;
  signature: string;
}

export class CrossSigningStore {
  private readonly s;

  constructor(db: SqlDatabase) {
    this.s = {
      get: db.prepare('SELECT usage, public_key, key_json FROM cross_signing_keys WHERE user_id = ? AND usage = ?'),
      put: db.prepare(
        `INSERT INTO cross_signing_keys (user_id, usage, public_key, key_json) VALUES (?, ?, ?, ?)
         ON CONFLICT(user_id, usage) DO UPDATE SET public_key = excluded.public_key, key_json = excluded.key_json`,
      ),
      byPublicKey: db.prepare('SELECT usage, public_key, key_json FROM cross_signing_keys WHERE user_id = ? AND public_key = ?'),
      addSignature: db.prepare(
        `INSERT INTO key_signatures (target_user_id, target_key, signer_user_id, signer_key_id, signature) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(target_user_id, target_key, signer_user_id, signer_key_id) DO UPDATE SET signature = excluded.signature`,
      ),
      signaturesOn: db.prepare(
        `SELECT signer_user_id, signer_key_id, signature FROM key_signatures
         WHERE target_user_id = ? AND target_key = ? AND (signer_user_id = ? OR signer_user_id = ?)`,
      ),
      deleteDeviceSignatures: db.prepare(
        `DELETE FROM key_signatures WHERE (target_user_id = ? AND target_key = ?) OR (signer_user_id = ? AND signer_key_id = ?)`,
      ),
    };
  }

  get(userId: string, usage: CrossSigningUsage): CrossSigningKey | null {
    const row = this.s.get.get(userId, usage) as { usage: CrossSigningUsage; public_key: string; key_json: string } | undefined;
    return row ? { usage: row.usage, publicKey: row.public_key, key: JSON.parse(row.key_json) as KeyObject } : null;
  }

  /** The user's cross-signing key with this public key, if any. */
  byPublicKey(userId: string, publicKey: string): CrossSigningKey | null {
    const row = this.s.byPublicKey.get(userId, publicKey) as { usage: CrossSigningUsage; public_key: string; key_json: string } | undefined;
    return row ? { usage: row.usage, publicKey: row.public_key, key: JSON.parse(row.key_json) as KeyObject } : null;
  }

  put(userId: string, usage: CrossSigningUsage, publicKey: string, key: KeyObject): void {
    this.s.put.run(userId, usage, publicKey, JSON.stringify(key));
  }

  addSignature(sig: Signature): void {
    this.s.addSignature.run(sig.targetUserId, sig.targetKey, sig.signerUserId, sig.signerKeyId, sig.signature);
  }

  /** The key as `viewer` may see it: its own signatures plus the uploaded ones visible to the viewer. */
  withSignatures(targetUserId: string, targetKey: string, key: KeyObject, viewer: string): KeyObject {
    const rows = this.s.signaturesOn.all(targetUserId, targetKey, targetUserId, viewer) as Array<{
      signer_user_id: string;
      signer_key_id: string;
      signature: string;
    }>;
    if (rows.length === 0) return key;
    const own = key['signatures'];
    const signatures: Record<string, Record<string, unknown>> = {};
    if (typeof own === 'object' && own !== null && !Array.isArray(own)) {
      for (const [user, byKey] of Object.entries(own)) {
        if (typeof byKey === 'object' && byKey !== null) signatures[user] = { ...(byKey as Record<string, unknown>) };
      }
    }
    for (const r of rows) (signatures[r.signer_user_id] ??= {})[r.signer_key_id] = r.signature;
    return { ...key, signatures };
  }

  /** A deleted device's signatures go with it: those on its keys and those it made. */
  deleteDevice(userId: string, deviceId: string): void {
    this.s.deleteDeviceSignatures.run(userId, deviceId, userId, `ed25519:${deviceId}`);
  }
}
