// homeserver.federation for suites that start federating homeservers from code: the shipped defaults
// (config/defaults.yaml), no DNS or .well-known
// (peers are named in `peers`), and whatever the suite overrides.
import { loadConfig } from '../config/index.js';
import type { FederationOptions } from '../homeserver/federation/Federation.js';

export function testFederationOptions(serverName: string, overrides: Partial<FederationOptions> = {}): FederationOptions {
  const shipped = loadConfig({ env: {} }).homeserver.federation;
  return {
    keyValidityMs: shipped.key_validity_ms,
    wellKnownServer: `${serverName}:443`,
    peers: {},
    trustedKeyServers: [],
    allowPrivateAddresses: shipped.allow_private_addresses,
    servers: shipped.servers,
    maxBodyBytes: shipped.max_body_bytes,
    remoteMediaMaxBytes: shipped.remote_media_max_bytes,
    queryTimeoutMs: shipped.query_timeout_ms,
    srvLookup: async () => [],
    fetchWellKnown: async () => ({ ok: false }),
    ...overrides,
  };
}
