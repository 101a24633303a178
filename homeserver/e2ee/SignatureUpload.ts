// POST /keys/signatures/upload: signatures for keys already published. The signed object must be the
// published key (signatures and unsigned aside), and the signature must come from the key the spec
// allows for that target: the uploader's self-signing key on their own devices, one of their devices on
// their own master key, their user-signing key on another user's master key. The server checks who
// signed, not the signature itself: it does no cryptography, and every client verifies signatures it reads.
import { isJsonObject, type JsonObject } from '../http/RequestReader.js';
import type { E2eeStores } from './E2eeStores.js';
import { sameJson, signedPart } from './SameJson.js';

export interface SignatureFailure {
  errcode: string;
  error: string;
}

export interface SignatureUploadResult {
  failures: Record<string, Record<string, SignatureFailure>>;
}

type Target = { kind: 'device' | 'master' | 'other'; key: JsonObject };

export function uploadSignatures(e2ee: E2eeStores, signer: string, isLocal: (userId: string) => boolean, body: JsonObject): SignatureUploadResult {
  const failures: SignatureUploadResult['failures'] = {};
  const fail = (userId: string, keyId: string, errcode: string, error: string): void => {
    (failures[userId] ??= {})[keyId] = { errcode, error };
  };
  for (const [targetUser, byKey] of Object.entries(body)) {
    if (!isJsonObject(byKey)) continue;
    for (const [keyId, signed] of Object.entries(byKey)) {
      if (!isLocal(targetUser)) {
        fail(targetUser, keyId, 'M_UNRECOGNIZED', 'This server does not federate');
        continue;
      }
      const target = findTarget(e2ee, targetUser, keyId);
      if (!target) {
        fail(targetUser, keyId, 'M_NOT_FOUND', 'Unknown key');
        continue;
      }
      if (!isJsonObject(signed) || !sameJson(signedPart(signed), signedPart(target.key))) {
        fail(targetUser, keyId, 'M_INVALID_SIGNATURE', 'The signed object does not match the published key');
        continue;
      }
      const allowed = allowedSigners(e2ee, signer, targetUser, target.kind);
      const bySigner = isJsonObject(signed['signatures']) ? signed['signatures'][signer] : undefined;
      const fresh = Object.entries(isJsonObject(bySigner) ? bySigner : {}).filter(
        ([signerKeyId, sig]) => typeof sig === 'string' && allowed.has(signerKeyId),
      );
      if (fresh.length === 0) {
        fail(targetUser, keyId, 'M_INVALID_SIGNATURE', 'No signature by a key allowed to sign this one');
        continue;
      }
      for (const [signerKeyId, sig] of fresh) {
        e2ee.crossSigning.addSignature({ targetUserId: targetUser, targetKey: keyId, signerUserId: signer, signerKeyId, signature: sig as string });
      }
      // Signatures on one's own keys concern everyone who shares a room; on another's, only the signer.
      if (targetUser === signer) e2ee.deviceLists.record(signer, null, target.kind === 'device' ? keyId : null);
      else e2ee.deviceLists.record(targetUser, signer);
    }
  }
  return { failures };
}

function findTarget(e2ee: E2eeStores, userId: string, keyId: string): Target | null {
  const device = e2ee.deviceKeys.get(userId, keyId);
  if (device) return { kind: 'device', key: device };
  const crossSigning = e2ee.crossSigning.byPublicKey(userId, keyId);
  if (!crossSigning) return null;
  return { kind: crossSigning.usage === 'master' ? 'master' : 'other', key: crossSigning.key };
}

function allowedSigners(e2ee: E2eeStores, signer: string, targetUser: string, kind: Target['kind']): Set<string> {
  const allowed = new Set<string>();
  if (targetUser === signer && kind === 'device') {
    const selfSigning = e2ee.crossSigning.get(signer, 'self_signing');
    if (selfSigning) allowed.add(`ed25519:${selfSigning.publicKey}`);
  } else if (targetUser === signer && kind === 'master') {
    for (const deviceId of e2ee.deviceKeys.forUser(signer).keys()) allowed.add(`ed25519:${deviceId}`);
  } else if (targetUser !== signer && kind === 'master') {
    const userSigning = e2ee.crossSigning.get(signer, 'user_signing');
    if (userSigning) allowed.add(`ed25519:${userSigning.publicKey}`);
  }
  return allowed;
}
