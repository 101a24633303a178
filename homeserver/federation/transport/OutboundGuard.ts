// What every outbound federation connection passes first (requests, key fetches, the notary's fetches,
// .well-known lookups): the config's server list (homeserver.federation.servers) must allow the
// destination, and the address connected to must not be private (loopback, LAN, link-local, ...; see
// http/PrivateAddresses) unless the destination is one the operator named: a key of
// homeserver.federation.peers or an entry of homeserver.federation.allow_private_addresses. Names are
// checked in the connection's own DNS lookup, so the address checked is the address connected to.
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { isPrivateAddress, publicOnlyLookup } from '../../http/PrivateAddresses.js';
import type { ServerAcl } from '../acl/ServerAcl.js';

export class OutboundRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboundRefusedError';
  }
}

export class OutboundGuard {
  private readonly lookup: LookupFunction;

  constructor(
    private readonly servers: ServerAcl,
    /** Server names whose addresses may be private. */
    private readonly privateAllowed: ReadonlySet<string>,
    lookup?: LookupFunction,
  ) {
    this.lookup =
      lookup ??
      publicOnlyLookup((host) => new OutboundRefusedError(`${host} resolves to private addresses only (allow it in homeserver.federation.allow_private_addresses)`));
  }

  /** Throws OutboundRefusedError when homeserver.federation.servers does not allow the server. */
  checkDestination(serverName: string): void {
    if (!this.servers.allows(serverName)) throw new OutboundRefusedError(`${serverName} is not allowed by homeserver.federation.servers`);
  }

  /**
   * Options for http(s).request to `host` on behalf of `serverName`: a lookup that drops private
   * addresses, or nothing when the server may be private. Throws for a private IP literal.
   */
  connectOptions(serverName: string, host: string): { lookup?: LookupFunction } {
    if (this.privateAllowed.has(serverName)) return {};
    if (isIP(host) !== 0) {
      if (isPrivateAddress(host)) {
        throw new OutboundRefusedError(`${host} (for ${serverName}) is a private address (allow it in homeserver.federation.allow_private_addresses)`);
      }
      return {};
    }
    return { lookup: this.lookup };
  }
}
