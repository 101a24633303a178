// Identifier grammar from the spec's appendices: what a user ID, alias or room ID may look like, and the
// random opaque IDs this server mints.
import { randomBytes } from 'node:crypto';
import { MatrixError } from '../MatrixError.js';

const MAX_ID_BYTES = 255;
/** Localparts this server issues: the spec's current grammar (lowercase only). */
const STRICT_LOCALPART = /^[a-z0-9._=\-/+]+$/;
/** server_name = hostname [":" port]: an IPv4 literal, [IPv6] or a DNS name. */
const SERVER_NAME = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;

export interface ParsedId {
  sigil: string;
  localpart: string;
  server: string;
}

/** Splits `<sigil>local:server`; null when it is not that shape. */
export function parseId(id: string, sigil: string): ParsedId | null {
  if (typeof id !== 'string' || !id.startsWith(sigil)) return null;
  if (Buffer.byteLength(id, 'utf8') > MAX_ID_BYTES || id.includes('\0')) return null;
  const colon = id.indexOf(':');
  if (colon < 2) return null;
  const localpart = id.slice(1, colon);
  const server = id.slice(colon + 1);
  if (!SERVER_NAME.test(server)) return null;
  return { sigil, localpart, server };
}

/** A user ID as the spec's historical grammar allows (any localpart without ':' or NUL). */
export function isValidUserId(id: unknown): id is string {
  return typeof id === 'string' && parseId(id, '@') !== null;
}

export function isValidRoomId(id: unknown): id is string {
  return typeof id === 'string' && parseId(id, '!') !== null;
}

export function isValidAlias(id: unknown): id is string {
  return typeof id === 'string' && parseId(id, '#') !== null;
}

export function isValidEventId(id: unknown): id is string {
  return typeof id === 'string' && id.startsWith('$') && id.length > 1 && Buffer.byteLength(id) <= MAX_ID_BYTES;
}

/** Checks a localpart someone asks to register; throws M_INVALID_USERNAME. */
export function checkNewLocalpart(localpart: string, serverName: string): string {
  if (localpart.length === 0) throw new MatrixError(400, 'M_INVALID_USERNAME', 'User ID cannot be empty');
  if (!STRICT_LOCALPART.test(localpart)) {
    throw new MatrixError(400, 'M_INVALID_USERNAME', 'User ID may only contain a-z, 0-9, and "._=-/+"');
  }
  const userId = `@${localpart}:${serverName}`;
  if (Buffer.byteLength(userId) > MAX_ID_BYTES) throw new MatrixError(400, 'M_INVALID_USERNAME', 'User ID is too long');
  return userId;
}

/** Url-safe unpadded base64 of `bytes` random bytes. */
export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

export function newRoomId(serverName: string): string {
  // Letters only, as other servers do, so room IDs never need escaping in logs or paths.
  return `!${randomLetters(18)}:${serverName}`;
}

export function randomLetters(n: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  const bytes = randomBytes(n);
  let out = '';
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
}
