// The federation foundations, composed: this server's keys (loaded by the homeserver at every start, as
// its events are signed with them), discovery, the guarded signing client, the cache of others' keys
// (kept in the database) and the notary, and the config's server list. The homeserver holds one when
// homeserver.federation.enabled is set; routes/federationRoutes.ts serves it.
import type { Logger } from 'pino';
import { MatrixError } from '../MatrixError.js';
import type { BlobStore } from '../media/BlobStore.js';
import { RemoteMediaCache } from '../media/RemoteMediaCache.js';
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import { ServerAcl } from './acl/ServerAcl.js';
import { authenticateRequest, type FederationRequest } from './auth/RequestAuth.js';
import { parseXMatrixHeader } from './auth/XMatrixHeader.js';
import { ServerResolver, systemSrvLookup, type SrvLookup } from './discovery/ServerResolver.js';
import { wellKnownOverHttps } from './discovery/WellKnownOverHttps.js';
import { WellKnownServer, type WellKnownFetch } from './discovery/WellKnownServer.js';
import { LocalServerKeys } from './keys/LocalServerKeys.js';
import { NotaryService } from './keys/NotaryService.js';
import { RemoteKeyStore, type KeyServerTransport, type TrustedNotary } from './keys/RemoteKeyStore.js';
import type { StoredSigningKeys } from './keys/SigningKeyFile.js';
import { StoredRemoteKeys } from './keys/StoredRemoteKeys.js';
import { RemoteMedia } from './queries/RemoteMedia.js';
import { RemoteQueries } from './queries/RemoteQueries.js';
import type { FederationSendOptions } from './send/FederationSender.js';
import { FederationClient } from './transport/FederationClient.js';
import { OutboundGuard } from './transport/OutboundGuard.js';

export interface FederationOptions {
  keyValidityMs: number;
  /** `m.server` for .well-known/matrix/server. */
  wellKnownServer: string;
  /** server name -> `host:port` or `http://host:port`. */
  peers: Record<string, string>;
  trustedKeyServers: TrustedNotary[];
  /** The outbound queue's limits and retry (DEFAULT_SEND_OPTIONS when absent). */
  sending?: FederationSendOptions;
  /** Server names (besides the peers) whose addresses may be private: loopback, LAN, link-local. */
  allowPrivateAddresses: string[];
  /** Globs of servers to talk to (both ways); deny wins. */
  servers: { allow: string[]; deny: string[] };
  /** Largest request body accepted on /_matrix/federation and /_matrix/key. */
  maxBodyBytes: number;
  /** Largest remote medium fetched for local clients. */
  remoteMediaMaxBytes: number;
  /** How long a client's request waits for another server (profiles, keys, directory, media). */
  queryTimeoutMs: number;
  /** DNS SRV and .well-known lookups; the system's by default (tests replace them). */
  srvLookup?: SrvLookup;
  fetchWellKnown?: WellKnownFetch;
}

export class Federation {
  readonly keys: LocalServerKeys;
  readonly resolver: ServerResolver;
  readonly client: FederationClient;
  readonly remoteKeys: RemoteKeyStore;
  readonly notary: NotaryService;
  /** homeserver.federation.servers: whom requests are taken from and sent to. */
  readonly servers: ServerAcl;
  /** What local clients ask of other servers. */
  readonly queries: RemoteQueries;
  readonly media: RemoteMedia;

  constructor(
    readonly serverName: string,
    readonly options: FederationOptions,
    stored: StoredSigningKeys,
    logger: Logger,
    /** Where fetched keys and remote media are kept across restarts. */
    store: { db: SqlDatabase; blobs: BlobStore },
  ) {
    this.keys = new LocalServerKeys(serverName, stored, options.keyValidityMs);
    this.servers = new ServerAcl({ ...options.servers, allowIpLiterals: true });
    const guard = new OutboundGuard(this.servers, new Set([...Object.keys(options.peers), ...options.allowPrivateAddresses]));
    this.resolver = new ServerResolver(
      options.peers,
      new WellKnownServer(options.fetchWellKnown ?? wellKnownOverHttps(guard), logger),
      options.srvLookup ?? systemSrvLookup,
    );
    this.client = new FederationClient({ serverName, signing: stored.current, resolver: this.resolver, guard });
    const transport: KeyServerTransport = {
      getServerKeys: (name) => this.client.request(name, 'GET', '/_matrix/key/v2/server'),
      queryNotary: (notary, body) => this.client.request(notary, 'POST', '/_matrix/key/v2/query', body),
    };
    this.remoteKeys = new RemoteKeyStore(transport, options.trustedKeyServers, logger, Date.now, new StoredRemoteKeys(store.db));
    // Our own keys need no fetch (a request we signed and sent to ourselves still verifies), nor storing.
    this.remoteKeys.remember(
      serverName,
      new Map([[stored.current.keyId, { key: stored.current.key.publicKey, validUntilTs: Number.MAX_SAFE_INTEGER }]]),
      false,
    );
    this.queries = new RemoteQueries(this.client, options.queryTimeoutMs);
    this.media = new RemoteMedia(this.client, new RemoteMediaCache(store.db, store.blobs), options.remoteMediaMaxBytes, options.queryTimeoutMs);
    this.notary = new NotaryService(this.keys, transport.getServerKeys, this.remoteKeys);
  }

  /**
   * The origin server of a signed inbound request; throws MatrixError 401 M_UNAUTHORIZED (unsigned,
   * bad signature) or 403 M_FORBIDDEN (homeserver.federation.servers denies the origin).
   */
  async authenticate(req: FederationRequest, authorization: string | undefined): Promise<string> {
    // The claimed origin is checked before its signature: checking it would mean fetching its keys,
    // and a denied server is never sent a request. (Claiming to be a denied server gains nothing.)
    const claimed = claimedOrigin(authorization);
    if (claimed !== null && !this.servers.allows(claimed)) {
      throw new MatrixError(403, 'M_FORBIDDEN', `${claimed} is not allowed to federate with this server`);
    }
    return authenticateRequest(req, authorization, this.serverName, (server, keyId, atTs) => this.remoteKeys.verifyKey(server, keyId, atTs));
  }
}

function claimedOrigin(authorization: string | undefined): string | null {
  try {
    return authorization === undefined ? null : parseXMatrixHeader(authorization).origin;
  } catch {
    return null; // authenticateRequest says what is wrong with it
  }
}
