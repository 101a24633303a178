import type { Redis } from 'ioredis';
import type { AliasLookupGuard } from '../matrix/MatrixIntent.js';
import type { RuntimeKeys } from '../store/BridgeKeyspace.js';

/** How long a lookup mark lives if its process dies before taking it back. */
const MARK_TTL_MS = 30_000;

/**
 * Keeps the bridges' own alias lookups from re-entering their alias query handlers. When a bridge
 * resolves an alias in an exclusive namespace of this appservice and the homeserver does not know it,
 * the homeserver asks the appservice (`GET /rooms/{alias}`), which would call that bridge's onAliasQuery
 * (which may well resolve the same alias again, until the homeserver times out). So each such lookup is
 * marked in Redis while it runs (the query may reach another process: an ingest host), and a query for a
 * marked alias is answered "no such alias" without asking the bridge: the lookup then returns null.
 */
export class OwnAliasLookups implements AliasLookupGuard {
  constructor(
    private readonly redis: () => Redis,
    private readonly keys: RuntimeKeys,
    /** Whether an alias lies in one of this appservice's bridges' alias namespaces. */
    private readonly owned: (alias: string) => boolean,
  ) {}

  async around<T>(alias: string, lookup: () => Promise<T>): Promise<T> {
    if (!this.owned(alias)) return lookup();
    const key = this.keys.aliasLookup(alias);
    await this.redis().multi().incr(key).pexpire(key, MARK_TTL_MS).exec();
    try {
      return await lookup();
    } finally {
      await this.redis()
        .decr(key)
        .then((left) => (left <= 0 ? this.redis().del(key) : 0))
        .catch(() => undefined);
    }
  }

  /** True while a bridge of this appservice is itself resolving the alias. */
  async inProgress(alias: string): Promise<boolean> {
    return Number((await this.redis().get(this.keys.aliasLookup(alias))) ?? 0) > 0;
  }
}
