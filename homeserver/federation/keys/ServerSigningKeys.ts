// Which signing key the homeserver uses: the configured key file, else one beside the database, else (no
// file to keep it in: storage: memory) a key in memory that lives as long as the process and its events.
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { StorageOptions } from '../../storage/Database.js';
import { ephemeralSigningKeys, loadOrCreateSigningKeys, type StoredSigningKeys } from './SigningKeyFile.js';

export const DEFAULT_KEY_FILE = 'federation_signing.key';

export function serverSigningKeys(options: { signingKeyFile?: string; storage: StorageOptions }, logger: Logger): StoredSigningKeys {
  const file = options.signingKeyFile ?? (options.storage.kind === 'sqlite' ? join(dirname(options.storage.path), DEFAULT_KEY_FILE) : null);
  if (file === null) return ephemeralSigningKeys();
  const stored = loadOrCreateSigningKeys(file);
  if (stored.created) logger.info({ key_id: stored.current.keyId, file }, 'made a new signing key');
  return stored;
}
