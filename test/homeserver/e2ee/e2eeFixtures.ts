// Key material for the server-side encryption suites. The homeserver does no cryptography, so keys here
// are random unpadded base64 of the right length and signatures random strings: what matters is that the
// server stores, hands out and relays them exactly. Responses are checked against the spec's data.
import { expect } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { SpecValidator, type HttpMethod, type JsonObject, type MatrixResponse, type TestUser } from '../../harness/index.js';

export const spec = SpecValidator.load();

/** The response has the status and validates against the spec's schema for that operation. */
export async function conforms<T>(apiFile: string, path: string, method: HttpMethod, res: MatrixResponse<T>, status = 200): Promise<T> {
  expect({ status: res.status, body: res.body }).toMatchObject({ status });
  if (spec) expect(await spec.validateResponse(apiFile, path, method, res.status, res.body)).toEqual([]);
  return res.body;
}

export function publicKey(): string {
  return randomBytes(32).toString('base64').replace(/=+$/, '');
}

function signature(): string {
  return randomBytes(64).toString('base64').replace(/=+$/, '');
}

export function deviceKeys(user: Pick<TestUser, 'userId' | 'deviceId'>): JsonObject {
  const { userId, deviceId } = user;
  return {
    user_id: userId,
    device_id: deviceId,
    algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
    keys: { [`curve25519:${deviceId}`]: publicKey(), [`ed25519:${deviceId}`]: publicKey() },
    signatures: { [userId]: { [`ed25519:${deviceId}`]: signature() } },
  };
}

/** `count` signed curve25519 one-time keys named `<prefix>0`, `<prefix>1`, ... */
export function oneTimeKeys(user: Pick<TestUser, 'userId' | 'deviceId'>, count: number, prefix = 'otk'): JsonObject {
  const keys: JsonObject = {};
  for (let i = 0; i < count; i++) {
    keys[`signed_curve25519:${prefix}${i}`] = { key: publicKey(), signatures: { [user.userId]: { [`ed25519:${user.deviceId}`]: signature() } } };
  }
  return keys;
}

export function fallbackKey(user: Pick<TestUser, 'userId' | 'deviceId'>, id = 'fb1'): JsonObject {
  return {
    [`signed_curve25519:${id}`]: { key: publicKey(), fallback: true, signatures: { [user.userId]: { [`ed25519:${user.deviceId}`]: signature() } } },
  };
}

export interface CrossSigningSet {
  masterPub: string;
  selfSigningPub: string;
  userSigningPub: string;
  master_key: JsonObject;
  self_signing_key: JsonObject;
  user_signing_key: JsonObject;
}

/** A master key and self-/user-signing keys "signed" by it (as the server checks: by key ID). */
export function crossSigningKeys(userId: string): CrossSigningSet {
  const masterPub = publicKey();
  const selfSigningPub = publicKey();
  const userSigningPub = publicKey();
  const signedByMaster = { [userId]: { [`ed25519:${masterPub}`]: signature() } };
  return {
    masterPub,
    selfSigningPub,
    userSigningPub,
    master_key: { user_id: userId, usage: ['master'], keys: { [`ed25519:${masterPub}`]: masterPub } },
    self_signing_key: { user_id: userId, usage: ['self_signing'], keys: { [`ed25519:${selfSigningPub}`]: selfSigningPub }, signatures: signedByMaster },
    user_signing_key: { user_id: userId, usage: ['user_signing'], keys: { [`ed25519:${userSigningPub}`]: userSigningPub }, signatures: signedByMaster },
  };
}

/** `key` with one more signature by `signer` under `signerKeyId`. */
export function signedBy(key: JsonObject, signer: string, signerKeyId: string): JsonObject {
  const signatures = structuredClone((key['signatures'] ?? {}) as Record<string, Record<string, string>>);
  (signatures[signer] ??= {})[signerKeyId] = signature();
  return { ...key, signatures };
}

export interface SyncBody {
  next_batch: string;
  to_device?: { events: Array<{ sender: string; type: string; content: JsonObject }> };
  device_lists?: { changed?: string[]; left?: string[] };
  device_one_time_keys_count?: Record<string, number>;
  device_unused_fallback_key_types?: string[];
}

/** One /sync (timeout 0 unless given), checked against the spec. */
export async function sync(user: TestUser, since?: string, timeout = 0): Promise<SyncBody> {
  const res = await user.http.get<SyncBody>('/sync', { query: { since, timeout } });
  return conforms('client-server/sync.yaml', '/sync', 'get', res);
}
