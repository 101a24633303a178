// Who an OpenID token belongs to, asked of the homeserver that issued it
// (`GET /_matrix/federation/v1/openid/userinfo`), remembered briefly so a tool polling the provisioning
// API does not ask for every request. Only tokens of our own server name are accepted: Patchbay bridges
// users of one homeserver, and the answer of a homeserver about another server's users proves nothing.
import { LRUCache } from 'lru-cache';
import { ProvisioningError } from '../plugin-api/index.js';

/** How long an answer is kept: a known token's owner, and a refused token (so a flood of bad ones costs one lookup each per window). */
const KNOWN_TTL_MS = 60_000;
const REFUSED_TTL_MS = 10_000;
const MAX_ENTRIES = 10_000;

export interface OpenIdVerifierOptions {
  homeserverUrl: string;
  serverName: string;
  fetch?: typeof fetch;
}

export class OpenIdVerifier {
  private readonly cache = new LRUCache<string, { userId: string | null }>({ max: MAX_ENTRIES, ttl: KNOWN_TTL_MS });
  private readonly base: string;

  constructor(private readonly options: OpenIdVerifierOptions) {
    this.base = options.homeserverUrl.replace(/\/+$/, '');
  }

  /** The token's owner; throws 401 M_UNKNOWN_TOKEN for a token the homeserver does not know (or that expired). */
  async userOf(token: string): Promise<string> {
    let entry = this.cache.get(token);
    if (entry === undefined) {
      entry = { userId: await this.ask(token) };
      this.cache.set(token, entry, { ttl: entry.userId === null ? REFUSED_TTL_MS : KNOWN_TTL_MS });
    }
    if (entry.userId === null) throw new ProvisioningError(401, 'M_UNKNOWN_TOKEN', 'The OpenID token is unknown or expired');
    return entry.userId;
  }

  private async ask(token: string): Promise<string | null> {
    const url = `${this.base}/_matrix/federation/v1/openid/userinfo?access_token=${encodeURIComponent(token)}`;
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(url, { signal: AbortSignal.timeout(10_000) });
    } catch {
      throw new ProvisioningError(503, 'M_UNKNOWN', 'The homeserver could not be asked about the OpenID token; try again');
    }
    if (res.status === 401 || res.status === 403 || res.status === 404) return null;
    if (!res.ok) throw new ProvisioningError(503, 'M_UNKNOWN', `The homeserver answered ${res.status} about the OpenID token; try again`);
    const body = (await res.json().catch(() => null)) as { sub?: unknown } | null;
    const sub = body?.sub;
    if (typeof sub !== 'string' || !sub.endsWith(`:${this.options.serverName}`)) return null;
    return sub;
  }
}
