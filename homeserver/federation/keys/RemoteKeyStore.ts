// Other servers' verify keys, fetched when needed and cached in memory and in the database (when given
// a RemoteKeyPersistence, so a restart fetches nothing it still has): first from the server itself
// (GET /_matrix/key/v2/server), then through each configured notary (POST /_matrix/key/v2/query,
// whose answers must carry both the server's and the notary's signature). Concurrent lookups for one
// server share a fetch, and a server that could not be reached is not asked again for a minute.
import type { Logger } from 'pino';
import { verifyJsonSignature } from '../signing/SignedJson.js';
import { decodeBase64 } from '../signing/UnpaddedBase64.js';
import { KeyResponseError, MAX_KEY_VALIDITY_MS, readServerKeys, type RemoteVerifyKey } from './ServerKeysResponse.js';
import type { RemoteKeyPersistence } from './StoredRemoteKeys.js';

/** How keys are fetched over the network (FederationClient in production, a fake in unit tests). */
export interface KeyServerTransport {
  /** The parsed body of GET /_matrix/key/v2/server on that server; throws when it cannot be had. */
  getServerKeys(serverName: string): Promise<unknown>;
  /** The parsed body of POST /_matrix/key/v2/query on a notary. */
  queryNotary(notary: string, body: unknown): Promise<unknown>;
}

/** A notary server we trust to vouch for others' keys; its own keys pinned, or fetched from it directly. */
export interface TrustedNotary {
  serverName: string;
  verifyKeys?: Record<string, string>;
}

export const FETCH_FAILURE_BACKOFF_MS = 60_000;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class RemoteKeyStore {
  private readonly cache = new Map<string, Map<string, RemoteVerifyKey>>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly failedAt = new Map<string, number>();

  constructor(
    private readonly transport: KeyServerTransport,
    private readonly notaries: TrustedNotary[],
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly persistence: RemoteKeyPersistence | null = null,
  ) {}

  /** Adds keys (fetched, or known by other means: our own, a pinned notary's); `persist` stores new ones. */
  remember(serverName: string, keys: Map<string, RemoteVerifyKey>, persist = true): void {
    const known = this.cached(serverName);
    const changed = new Map<string, RemoteVerifyKey>();
    for (const [id, k] of keys) {
      const had = known.get(id);
      if (!had || had.validUntilTs < k.validUntilTs) {
        known.set(id, k);
        changed.set(id, k);
      }
    }
    this.cache.set(serverName, known);
    if (persist && changed.size > 0) this.persistence?.save(serverName, changed);
  }

  /** The server's keys in memory, read from the database the first time (only kept once there are some). */
  private cached(serverName: string): Map<string, RemoteVerifyKey> {
    const known = this.cache.get(serverName);
    if (known) return known;
    const stored = this.persistence?.load(serverName) ?? new Map<string, RemoteVerifyKey>();
    if (stored.size > 0) this.cache.set(serverName, stored);
    return stored;
  }

  /** The server's key `keyId` if it was valid at `atTs` (fetching it when needed), else null. */
  async verifyKey(serverName: string, keyId: string, atTs: number): Promise<Uint8Array | null> {
    const cached = this.usable(serverName, keyId, atTs);
    if (cached) return cached;
    await this.refresh(serverName, keyId, atTs);
    return this.usable(serverName, keyId, atTs);
  }

  private usable(serverName: string, keyId: string, atTs: number): Uint8Array | null {
    const k = this.cached(serverName).get(keyId);
    return k && atTs <= k.validUntilTs ? k.key : null;
  }

  private refresh(serverName: string, keyId: string, atTs: number): Promise<void> {
    const failed = this.failedAt.get(serverName);
    if (failed !== undefined && this.now() - failed < FETCH_FAILURE_BACKOFF_MS) return Promise.resolve();
    let pending = this.inFlight.get(serverName);
    if (!pending) {
      pending = this.fetch(serverName, keyId, atTs).finally(() => this.inFlight.delete(serverName));
      this.inFlight.set(serverName, pending);
    }
    return pending;
  }

  private async fetch(serverName: string, keyId: string, atTs: number): Promise<void> {
    try {
      this.remember(serverName, readServerKeys(serverName, await this.transport.getServerKeys(serverName), this.now()));
      if (this.usable(serverName, keyId, atTs)) {
        this.failedAt.delete(serverName);
        return;
      }
    } catch (err) {
      this.logger.info({ server_name: serverName, err: (err as Error).message }, 'direct key fetch failed');
    }
    for (const notary of this.notaries) {
      if (notary.serverName === serverName) continue;
      try {
        await this.fetchThroughNotary(notary, serverName, keyId, atTs);
        if (this.usable(serverName, keyId, atTs)) {
          this.failedAt.delete(serverName);
          return;
        }
      } catch (err) {
        this.logger.info({ server_name: serverName, notary: notary.serverName, err: (err as Error).message }, 'notary key query failed');
      }
    }
    this.failedAt.set(serverName, this.now());
  }

  private async notaryKey(notary: TrustedNotary, keyId: string): Promise<Uint8Array | null> {
    const pinned = notary.verifyKeys?.[keyId];
    if (pinned !== undefined) return decodeBase64(pinned);
    if (notary.verifyKeys && Object.keys(notary.verifyKeys).length > 0) return null; // pinned, and not this one
    const cached = this.usable(notary.serverName, keyId, this.now());
    if (cached) return cached;
    this.remember(notary.serverName, readServerKeys(notary.serverName, await this.transport.getServerKeys(notary.serverName), this.now()));
    return this.usable(notary.serverName, keyId, this.now());
  }

  private async fetchThroughNotary(notary: TrustedNotary, serverName: string, keyId: string, atTs: number): Promise<void> {
    const minimum = Math.min(Math.max(atTs, this.now()), this.now() + MAX_KEY_VALIDITY_MS);
    const answer = await this.transport.queryNotary(notary.serverName, {
      server_keys: { [serverName]: { [keyId]: { minimum_valid_until_ts: minimum } } },
    });
    const list = isObject(answer) && Array.isArray(answer['server_keys']) ? answer['server_keys'] : null;
    if (!list) throw new KeyResponseError(serverName, `${notary.serverName} answered without a server_keys list`);
    for (const entry of list) {
      if (!isObject(entry) || entry['server_name'] !== serverName) continue;
      const keys = readServerKeys(serverName, entry, this.now());
      const sigs = isObject(entry['signatures']) && isObject(entry['signatures'][notary.serverName]) ? entry['signatures'][notary.serverName] : {};
      let vouched = false;
      for (const notaryKeyId of Object.keys(sigs as object)) {
        const key = await this.notaryKey(notary, notaryKeyId);
        if (key && verifyJsonSignature(entry, notary.serverName, notaryKeyId, key)) vouched = true;
      }
      if (!vouched) throw new KeyResponseError(serverName, `the answer of ${notary.serverName} is not signed by it`);
      this.remember(serverName, keys);
    }
  }
}
