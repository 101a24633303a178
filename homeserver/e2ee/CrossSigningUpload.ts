// POST /keys/device_signing/upload, checked before anything is stored: each key belongs to the uploader,
// has its usage and exactly one public key, and the self-signing and user-signing keys carry a signature
// by the master key (this one or the stored one). Whether the password is needed follows the spec
// (MSC3967): not for the first upload, nor for uploading exactly the keys already stored.
import { MatrixError } from '../MatrixError.js';
import { isJsonObject, type JsonObject } from '../http/RequestReader.js';
import { CROSS_SIGNING_USAGES, type CrossSigningKey, type CrossSigningStore, type CrossSigningUsage } from './CrossSigningStore.js';
import { sameJson } from './SameJson.js';

export interface CrossSigningUpload {
  keys: CrossSigningKey[];
  /** True when the upload replaces keys: the spec then asks for user-interactive auth. */
  needsAuth: boolean;
}

const FIELD: Record<CrossSigningUsage, string> = {
  master: 'master_key',
  self_signing: 'self_signing_key',
  user_signing: 'user_signing_key',
};

export function checkCrossSigningUpload(
  store: CrossSigningStore,
  userId: string,
  deviceIds: Set<string>,
  body: JsonObject,
): CrossSigningUpload {
  const keys: CrossSigningKey[] = [];
  for (const usage of CROSS_SIGNING_USAGES) {
    const raw = body[FIELD[usage]];
    if (raw === undefined || raw === null) continue;
    keys.push(parseKey(raw, usage, userId, FIELD[usage]));
  }
  const master = keys.find((k) => k.usage === 'master') ?? store.get(userId, 'master');
  for (const k of keys) {
    if (deviceIds.has(k.publicKey)) throw new MatrixError(403, 'M_FORBIDDEN', `${FIELD[k.usage]}: key ID in use by a device`);
    if (k.usage === 'master') continue;
    if (!master) throw new MatrixError(400, 'M_MISSING_PARAM', 'No master signing key is available');
    const bySigner = isJsonObject(k.key['signatures']) ? k.key['signatures'][userId] : undefined;
    if (!isJsonObject(bySigner) || typeof bySigner[`ed25519:${master.publicKey}`] !== 'string') {
      throw new MatrixError(400, 'M_INVALID_SIGNATURE', `${FIELD[k.usage]} is not signed by the master signing key`);
    }
  }
  const storedMaster = store.get(userId, 'master');
  const needsAuth = storedMaster !== null && keys.some((k) => !sameJson(store.get(userId, k.usage)?.key, k.key));
  return { keys, needsAuth };
}

function parseKey(raw: unknown, usage: CrossSigningUsage, userId: string, field: string): CrossSigningKey {
  if (!isJsonObject(raw)) throw new MatrixError(400, 'M_BAD_JSON', `${field} must be an object`);
  if (raw['user_id'] !== userId) throw new MatrixError(400, 'M_INVALID_PARAM', `${field}.user_id must be ${userId}`);
  const usages = raw['usage'];
  if (!Array.isArray(usages) || !usages.includes(usage)) throw new MatrixError(400, 'M_INVALID_PARAM', `${field}.usage must include "${usage}"`);
  const keyMap = raw['keys'];
  const entries = isJsonObject(keyMap) ? Object.entries(keyMap) : [];
  if (entries.length !== 1) throw new MatrixError(400, 'M_INVALID_PARAM', `${field}.keys must hold exactly one key`);
  const [name, value] = entries[0]!;
  const colon = name.indexOf(':');
  const publicKey = name.slice(colon + 1);
  if (colon <= 0 || publicKey === '' || value !== publicKey) {
    throw new MatrixError(400, 'M_INVALID_PARAM', `${field}.keys must be {"<algorithm>:<public key>": "<public key>"}`);
  }
  if (raw['signatures'] !== undefined && !isJsonObject(raw['signatures'])) {
    throw new MatrixError(400, 'M_BAD_JSON', `${field}.signatures must be an object`);
  }
  return { usage, publicKey, key: raw };
}
