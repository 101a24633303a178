// homeserver.rate_limits: one set of token buckets per limit, and the middleware a route puts after its
// auth. Over a limit: 429 M_LIMIT_EXCEEDED with retry_after_ms (ErrorResponses adds Retry-After).
// Requests of an appservice's sender, and of the users an appservice with `rate_limited: false` acts as,
// are exempt (Requester.rateLimited).
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Counter } from 'prom-client';
import type { RateLimitsConfig } from '../../config/index.js';
import { MatrixError } from '../MatrixError.js';
import { requesterOf } from '../http/RequestReader.js';
import { addressKey, plainAddress } from './ClientAddress.js';
import { TokenBuckets, type Clock } from './TokenBuckets.js';

export type LimitName = Exclude<keyof RateLimitsConfig, 'enabled'>;

const LIMIT_NAMES: readonly LimitName[] = [
  'sends_per_user',
  'room_creation_per_user',
  'joins_per_user',
  'invites_per_user',
  'registration_per_ip',
  'login_per_ip',
  'failed_login_per_account',
  'federation_per_origin',
];

export class RateLimits {
  /** Null when rate_limits.enabled is false. */
  private readonly buckets: ReadonlyMap<LimitName, TokenBuckets> | null;

  constructor(
    config: RateLimitsConfig,
    private readonly rejected: Counter<'limit'>,
    clock: Clock = Date.now,
  ) {
    this.buckets = config.enabled
      ? new Map(LIMIT_NAMES.map((name) => [name, new TokenBuckets({ perSecond: config[name].per_second, burst: config[name].burst }, clock)]))
      : null;
  }

  /** Spends one of `key`'s tokens, or throws 429 M_LIMIT_EXCEEDED. */
  take(name: LimitName, key: string): void {
    const verdict = this.buckets?.get(name)?.take(key);
    if (verdict && !verdict.allowed) this.reject(name, verdict.retryAfterMs);
  }

  /** Throws 429 M_LIMIT_EXCEEDED when `key` has no token left, spending none. */
  check(name: LimitName, key: string): void {
    const verdict = this.buckets?.get(name)?.check(key);
    if (verdict && !verdict.allowed) this.reject(name, verdict.retryAfterMs);
  }

  /** Spends a token if `key` has one; for counting what happened (a wrong password), never throws. */
  spend(name: LimitName, key: string): void {
    this.buckets?.get(name)?.take(key);
  }

  /** Middleware for after the auth middleware: one of the requester's tokens. */
  perUser(name: LimitName): RequestHandler {
    return (_req: Request, res: Response, next: NextFunction): void => {
      const me = requesterOf(res);
      if (me.rateLimited) this.take(name, me.userId);
      next();
    };
  }

  private reject(name: LimitName, retryAfterMs: number): never {
    this.rejected.inc({ limit: name });
    throw new MatrixError(429, 'M_LIMIT_EXCEEDED', `Too many requests (${name}); retry in ${retryAfterMs} ms`, {
      retry_after_ms: retryAfterMs,
    });
  }
}

/** The client's address key for the per-IP limits (Express's req.ip honours homeserver.trusted_proxies). */
export function clientAddressOf(req: Request): string {
  return addressKey(clientIpOf(req));
}

/** The client's IP address (behind a trusted proxy, the one it names). */
export function clientIpOf(req: Request): string {
  return plainAddress(req.ip ?? req.socket.remoteAddress ?? 'unknown');
}
