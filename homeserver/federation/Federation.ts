// The federation foundations, composed: this server's keys (loaded by the homeserver at every start, as
// its events are signed with them), discovery, the signing client, the cache of others' keys and the
// notary. The homeserver holds one when homeserver.federation.enabled is set; routes/federationRoutes.ts
// serves it.
import type { Logger } from 'pino';
import { authenticateRequest, type FederationRequest } from './auth/RequestAuth.js';
import { ServerResolver, systemSrvLookup, type SrvLookup } from './discovery/ServerResolver.js';
import { fetchWellKnownOverHttps, WellKnownServer, type WellKnownFetch } from './discovery/WellKnownServer.js';
import { LocalServerKeys } from './keys/LocalServerKeys.js';
import { NotaryService } from './keys/NotaryService.js';
import { RemoteKeyStore, type KeyServerTransport, type TrustedNotary } from './keys/RemoteKeyStore.js';
import type { StoredSigningKeys } from './keys/SigningKeyFile.js';
import type { FederationSendOptions } from './send/FederationSender.js';
import { FederationClient } from './transport/FederationClient.js';

export interface FederationOptions {
  keyValidityMs: number;
  /** `m.server` for .well-known/matrix/server. */
  wellKnownServer: string;
  /** server name -> `host:port` or `http://host:port`. */
  peers: Record<string, string>;
  trustedKeyServers: TrustedNotary[];
  /** The outbound queue's limits and retry (DEFAULT_SEND_OPTIONS when absent). */
  sending?: FederationSendOptions;
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

  constructor(
    readonly serverName: string,
    readonly options: FederationOptions,
    stored: StoredSigningKeys,
    logger: Logger,
  ) {
    this.keys = new LocalServerKeys(serverName, stored, options.keyValidityMs);
    this.resolver = new ServerResolver(
      options.peers,
      new WellKnownServer(options.fetchWellKnown ?? fetchWellKnownOverHttps, logger),
      options.srvLookup ?? systemSrvLookup,
    );
    this.client = new FederationClient({ serverName, signing: stored.current, resolver: this.resolver });
    const transport: KeyServerTransport = {
      getServerKeys: (name) => this.client.request(name, 'GET', '/_matrix/key/v2/server'),
      queryNotary: (notary, body) => this.client.request(notary, 'POST', '/_matrix/key/v2/query', body),
    };
    this.remoteKeys = new RemoteKeyStore(transport, options.trustedKeyServers, logger);
    // Our own keys need no fetch (a request we signed and sent to ourselves still verifies).
    this.remoteKeys.remember(serverName, new Map([[stored.current.keyId, { key: stored.current.key.publicKey, validUntilTs: Number.MAX_SAFE_INTEGER }]]));
    this.notary = new NotaryService(this.keys, transport.getServerKeys, this.remoteKeys);
  }

  /** The origin server of a signed inbound request; throws MatrixError 401 M_UNAUTHORIZED. */
  authenticate(req: FederationRequest, authorization: string | undefined): Promise<string> {
    return authenticateRequest(req, authorization, this.serverName, (server, keyId, atTs) => this.remoteKeys.verifyKey(server, keyId, atTs));
  }
}
