// GET https://<host>/.well-known/matrix/server, cached as the spec recommends: a good answer for its
// Cache-Control max-age (24 h without one, never more than 48 h), a failure for an hour. The fetch itself
// is WellKnownOverHttps (or a test's own).
import type { Logger } from 'pino';

export const WELL_KNOWN_DEFAULT_TTL_MS = 24 * 3600_000;
export const WELL_KNOWN_MAX_TTL_MS = 48 * 3600_000;
export const WELL_KNOWN_ERROR_TTL_MS = 3600_000;
export const WELL_KNOWN_MAX_BODY_BYTES = 64 * 1024;

/** What a .well-known request gave: the body and its Cache-Control, or nothing usable. */
export type WellKnownResponse = { ok: true; body: unknown; cacheControl: string | null } | { ok: false };

export type WellKnownFetch = (host: string) => Promise<WellKnownResponse>;

function ttlOf(cacheControl: string | null): number {
  const m = cacheControl ? /(?:^|[,\s])max-age=(\d+)/i.exec(cacheControl) : null;
  if (cacheControl && /(?:^|[,\s])no-store(?:$|[,\s])/i.test(cacheControl)) return 0;
  return m ? Math.min(Number(m[1]) * 1000, WELL_KNOWN_MAX_TTL_MS) : WELL_KNOWN_DEFAULT_TTL_MS;
}

/** The delegated `host[:port]` of a well-known body, or null when the body is not valid. */
function delegationOf(body: unknown): string | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const server = (body as Record<string, unknown>)['m.server'];
  return typeof server === 'string' && server.length > 0 ? server : null;
}

export class WellKnownServer {
  private readonly cache = new Map<string, { delegation: string | null; until: number }>();

  constructor(
    private readonly fetchWellKnown: WellKnownFetch,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The `m.server` the host delegates to, or null (no valid answer). */
  async delegation(host: string): Promise<string | null> {
    const hit = this.cache.get(host);
    if (hit && hit.until > this.now()) return hit.delegation;
    const res = await this.fetchWellKnown(host);
    const delegation = res.ok ? delegationOf(res.body) : null;
    const ttl = res.ok && delegation !== null ? ttlOf(res.cacheControl) : WELL_KNOWN_ERROR_TTL_MS;
    this.cache.set(host, { delegation, until: this.now() + ttl });
    this.logger.debug({ server_name: host, delegation }, 'well-known server lookup');
    return delegation;
  }
}
