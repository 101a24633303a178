// This server's keys as /_matrix/key/v2/server publishes them: the current verify key, the retired
// ones (old_verify_keys, valid only for events signed before their expired_ts) and a valid_until_ts,
// the whole signed with the current key.
import { signJson, type ServerSigningKey } from '../signing/SignedJson.js';
import { encodeUnpaddedBase64 } from '../signing/UnpaddedBase64.js';
import type { OldVerifyKey, StoredSigningKeys } from './SigningKeyFile.js';

export type ServerKeysBody = {
  server_name: string;
  verify_keys: Record<string, { key: string }>;
  old_verify_keys: Record<string, OldVerifyKey>;
  valid_until_ts: number;
  signatures: Record<string, Record<string, string>>;
};

export class LocalServerKeys {
  constructor(
    readonly serverName: string,
    private readonly keys: StoredSigningKeys,
    /** How long peers may cache the response (Synapse publishes a day). */
    private readonly validityMs: number,
  ) {}

  get signing(): ServerSigningKey {
    return this.keys.current;
  }

  /** The signed response for GET /_matrix/key/v2/server. */
  serverKeys(now = Date.now()): ServerKeysBody {
    return signJson(
      {
        server_name: this.serverName,
        verify_keys: { [this.keys.current.keyId]: { key: encodeUnpaddedBase64(this.keys.current.key.publicKey) } },
        old_verify_keys: this.keys.old,
        valid_until_ts: now + this.validityMs,
      },
      this.serverName,
      this.keys.current,
    );
  }
}
