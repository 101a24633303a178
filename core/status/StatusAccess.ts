import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { Request } from 'express';

export const STATUS_COOKIE = 'patchbay_status';

/** `open`: no token needed; `token`: the right one is needed; `off`: bound beyond loopback without a token. */
export type StatusAccessMode = 'open' | 'token' | 'off';

/** True for addresses only this machine reaches: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackBind(bind: string): boolean {
  if (bind === 'localhost' || bind === '::1' || bind === '[::1]') return true;
  return isIP(bind) === 4 && bind.startsWith('127.');
}

/**
 * Who may see the status page and act on dead letters. With host.status_token set, a request must carry
 * it (Authorization: Bearer, or the cookie GET /?token= sets); without one the page is open on a loopback
 * bind and off on any other, since the host's port then faces a network.
 */
export class StatusAccess {
  readonly mode: StatusAccessMode;
  private readonly digest: Buffer | null;

  constructor(bind: string, token: string | null) {
    this.mode = token !== null ? 'token' : isLoopbackBind(bind) ? 'open' : 'off';
    this.digest = token === null ? null : sha256(token);
  }

  /** Whether this token is the configured one (compared in constant time). */
  matches(candidate: string): boolean {
    return this.digest !== null && timingSafeEqual(sha256(candidate), this.digest);
  }

  allows(req: Request): boolean {
    if (this.mode === 'open') return true;
    if (this.mode === 'off') return false;
    const header = req.headers.authorization;
    if (header?.startsWith('Bearer ') && this.matches(header.slice(7))) return true;
    const cookie = cookieValue(req.headers.cookie, STATUS_COOKIE);
    return cookie !== null && this.matches(cookie);
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}
