// Our notary endpoint (POST /_matrix/key/v2/query, GET /_matrix/key/v2/query/{serverName}): other
// servers' key responses, fetched directly and checked against their self-signature, cached while they
// are valid, and handed out with our signature added. At most 20 servers per query, so one request
// cannot make us fetch from the whole network.
import { signJson } from '../signing/SignedJson.js';
import type { LocalServerKeys } from './LocalServerKeys.js';
import type { RemoteKeyStore } from './RemoteKeyStore.js';
import { readServerKeys } from './ServerKeysResponse.js';

export const MAX_SERVERS_PER_QUERY = 20;

type KeyResponse = Record<string, unknown> & { valid_until_ts: number };

export class NotaryService {
  private readonly cache = new Map<string, KeyResponse>();

  constructor(
    private readonly local: LocalServerKeys,
    private readonly fetchServerKeys: (serverName: string) => Promise<unknown>,
    private readonly remote: RemoteKeyStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** The key responses for each server asked about that we could get, signed by us too. */
  async query(wanted: Record<string, number | undefined>): Promise<unknown[]> {
    const names = Object.keys(wanted).slice(0, MAX_SERVERS_PER_QUERY);
    const answers = await Promise.all(names.map((name) => this.responseFor(name, wanted[name] ?? this.now())));
    return answers.filter((a): a is KeyResponse => a !== null).map((a) => signJson(a, this.local.serverName, this.local.signing));
  }

  private async responseFor(serverName: string, minimumValidUntil: number): Promise<KeyResponse | null> {
    if (serverName === this.local.serverName) return this.local.serverKeys(this.now());
    const cached = this.cache.get(serverName);
    if (cached && cached.valid_until_ts >= minimumValidUntil) return cached;
    try {
      const body = await this.fetchServerKeys(serverName);
      this.remote.remember(serverName, readServerKeys(serverName, body, this.now()));
      const fresh = body as KeyResponse;
      this.cache.set(serverName, fresh);
      return fresh;
    } catch {
      return cached ?? null; // the spec lets a notary answer from its cache for a server that is down
    }
  }
}
