// The server's signing key on disk, in Synapse's key-file format (`ed25519 <id> <base64 seed>`, one
// line) so a key can move between the two. Written owner-only (0600) in a directory made 0700; a
// rotation keeps each retired key's public half, with the time it stopped, in a JSON file beside it
// (`<file>.old.json`), which /_matrix/key/v2/server publishes as old_verify_keys.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Ed25519SigningKey } from '../signing/Ed25519.js';
import type { ServerSigningKey } from '../signing/SignedJson.js';
import { decodeBase64, encodeUnpaddedBase64 } from '../signing/UnpaddedBase64.js';

/** A retired key: its public half and when it stopped being used. */
export interface OldVerifyKey {
  key: string;
  expired_ts: number;
}

export interface StoredSigningKeys {
  current: ServerSigningKey;
  old: Record<string, OldVerifyKey>;
}

/** The key file is missing pieces or was changed by hand wrongly. */
export class SigningKeyFileError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}. Fix or remove the file (a new key is then made, and peers must fetch it again).`);
    this.name = 'SigningKeyFileError';
  }
}

const KEY_VERSION = /^[A-Za-z0-9_]+$/;

function newKeyVersion(): string {
  // Synapse makes `a_` + 4 random letters; 8 URL-safe characters say "random" with more room.
  return 'a_' + randomBytes(6).toString('base64url').replace(/-/g, 'A').replace(/_/g, 'B');
}

function writePrivate(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600); // a umask can only take bits away, but a stale tmp file may have kept others
  renameSync(tmp, file);
}

function parseKeyFile(file: string): ServerSigningKey {
  const line = readFileSync(file, 'utf8').trim().split('\n')[0] ?? '';
  const [alg, version, seedText] = line.trim().split(/\s+/);
  if (alg !== 'ed25519' || !version || !KEY_VERSION.test(version) || !seedText) {
    throw new SigningKeyFileError(file, 'expected one line "ed25519 <key id> <base64 seed>"');
  }
  const seed = decodeBase64(seedText);
  if (!seed || seed.length !== 32) throw new SigningKeyFileError(file, 'the seed is not 32 bytes of Base64');
  return { keyId: `ed25519:${version}`, key: Ed25519SigningKey.fromSeed(seed) };
}

function keyFileText(signing: ServerSigningKey): string {
  return `ed25519 ${signing.keyId.slice('ed25519:'.length)} ${encodeUnpaddedBase64(signing.key.seed())}\n`;
}

function parseOldKeys(file: string): Record<string, OldVerifyKey> {
  if (!existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new SigningKeyFileError(file, 'not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new SigningKeyFileError(file, 'not a JSON object');
  const out: Record<string, OldVerifyKey> = {};
  for (const [id, v] of Object.entries(parsed as Record<string, unknown>)) {
    const entry = v as Partial<OldVerifyKey> | null;
    if (!id.startsWith('ed25519:') || typeof entry?.key !== 'string' || typeof entry.expired_ts !== 'number') {
      throw new SigningKeyFileError(file, `entry ${id} is not {"key": "<base64>", "expired_ts": <ms>}`);
    }
    out[id] = { key: entry.key, expired_ts: entry.expired_ts };
  }
  return out;
}

export const oldKeysFileOf = (keyFile: string): string => `${keyFile}.old.json`;

/** Reads the key file, making a new key (and the file, 0600) when there is none. */
export function loadOrCreateSigningKeys(keyFile: string): StoredSigningKeys & { created: boolean } {
  let created = false;
  if (!existsSync(keyFile)) {
    writePrivate(keyFile, keyFileText({ keyId: `ed25519:${newKeyVersion()}`, key: Ed25519SigningKey.generate() }));
    created = true;
  }
  return { current: parseKeyFile(keyFile), old: parseOldKeys(oldKeysFileOf(keyFile)), created };
}

/** A key kept in memory only, for a homeserver without a key file (storage: memory, tests). */
export function ephemeralSigningKeys(): StoredSigningKeys {
  return { current: { keyId: `ed25519:${newKeyVersion()}`, key: Ed25519SigningKey.generate() }, old: {} };
}

/** Retires the current key (kept as an old verify key, expired now) and writes a new one. */
export function rotateSigningKey(keyFile: string, now = Date.now()): StoredSigningKeys {
  const { current, old } = loadOrCreateSigningKeys(keyFile);
  const retired = { ...old, [current.keyId]: { key: encodeUnpaddedBase64(current.key.publicKey), expired_ts: now } };
  // The old keys first: a crash between the writes leaves the old key current, never lost.
  writePrivate(oldKeysFileOf(keyFile), JSON.stringify(retired, null, 2) + '\n');
  const next: ServerSigningKey = { keyId: `ed25519:${newKeyVersion()}`, key: Ed25519SigningKey.generate() };
  writePrivate(keyFile, keyFileText(next));
  return { current: next, old: retired };
}
