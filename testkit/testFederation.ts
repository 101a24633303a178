// homeserver.federation for suites that start federating homeservers from code: the shipped defaults
// (config/defaults.yaml), no DNS or .well-known (peers are named in `peers`), and whatever the suite
// overrides; and a signing client a suite uses to speak as one of its servers.
import { pino } from 'pino';
import { loadConfig } from '../config/index.js';
import { ServerAcl } from '../homeserver/federation/acl/ServerAcl.js';
import { ServerResolver } from '../homeserver/federation/discovery/ServerResolver.js';
import { WellKnownServer } from '../homeserver/federation/discovery/WellKnownServer.js';
import type { FederationOptions } from '../homeserver/federation/Federation.js';
import type { ServerSigningKey } from '../homeserver/federation/signing/SignedJson.js';
import { FederationClient, FederationRequestError } from '../homeserver/federation/transport/FederationClient.js';
import { OutboundGuard } from '../homeserver/federation/transport/OutboundGuard.js';

const noDns = { srvLookup: async () => [], fetchWellKnown: async () => ({ ok: false as const }) };

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
    ...noDns,
    ...overrides,
  };
}

/**
 * Options for one of a suite's servers on loopback: `peers` may be filled in after the start (a peer's port
 * is known only once it runs), so every server named in `loopbackServers` may be at a loopback address.
 */
export function loopbackFederationOptions(serverName: string, peers: Record<string, string>, loopbackServers: string[]): FederationOptions {
  return testFederationOptions(serverName, { keyValidityMs: 3600_000, peers, allowPrivateAddresses: loopbackServers });
}

/** Signed requests as `serverName` (with its key) to servers at the given loopback addresses. */
export function federationClientAs(serverName: string, signing: ServerSigningKey, peers: Record<string, string>): FederationClient {
  const resolver = new ServerResolver(peers, new WellKnownServer(noDns.fetchWellKnown, pino({ level: 'silent' })), noDns.srvLookup);
  const guard = new OutboundGuard(new ServerAcl({ allow: ['*'], deny: [], allowIpLiterals: true }), new Set(Object.keys(peers)));
  return new FederationClient({ serverName, signing, resolver, guard });
}

/** What a peer answered to a request expected to fail: its status and errcode (throws if it succeeded). */
export async function federationRefusal(request: Promise<unknown>): Promise<{ status: number | null; errcode: string | null }> {
  try {
    await request;
  } catch (err) {
    if (err instanceof FederationRequestError) return { status: err.status, errcode: err.errcode };
    throw err;
  }
  throw new Error('the request succeeded');
}
