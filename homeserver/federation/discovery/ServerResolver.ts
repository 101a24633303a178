// Where to reach a server by its name, in the order "Resolving server names" gives: the config's peer
// map first (tests, private federations; the only place plain HTTP is allowed), then an IP literal, an
// explicit port, .well-known delegation (itself resolved the same way), SRV _matrix-fed._tcp then the
// deprecated _matrix._tcp, and finally port 8448. The result says what to connect to, which Host header
// to send and which name the TLS certificate must carry.
import { promises as dns } from 'node:dns';
import { connectHost, parseServerName } from './ServerName.js';
import type { WellKnownServer } from './WellKnownServer.js';

export const DEFAULT_FEDERATION_PORT = 8448;

export interface ServerAddress {
  /** A host name or IP address to connect to. */
  host: string;
  port: number;
  /** The Host header. */
  hostHeader: string;
  /** The name the TLS certificate must match; null: plain HTTP (only for peers the config names). */
  tlsName: string | null;
}

export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

export type SrvLookup = (name: string) => Promise<SrvRecord[]>;

/** The system resolver; no record (or no such name) is an empty list. */
export const systemSrvLookup: SrvLookup = async (name) => {
  try {
    return await dns.resolveSrv(name);
  } catch {
    return [];
  }
};

/** A server name the resolver cannot use. */
export class ServerNameError extends Error {
  constructor(serverName: string) {
    super(`${JSON.stringify(serverName)} is not a valid server name`);
    this.name = 'ServerNameError';
  }
}

/** `host:port` -> TLS, `http://host:port` -> plain HTTP, as homeserver.federation.peers says. */
export function peerAddress(serverName: string, address: string): ServerAddress {
  const plain = address.startsWith('http://');
  const parsed = parseServerName(plain ? address.slice('http://'.length) : address);
  if (!parsed || parsed.port === null) throw new ServerNameError(address);
  return { host: connectHost(parsed.host), port: parsed.port, hostHeader: serverName, tlsName: plain ? null : connectHost(parsed.host) };
}

export class ServerResolver {
  constructor(
    private readonly peers: Record<string, string>,
    private readonly wellKnown: WellKnownServer,
    private readonly srv: SrvLookup = systemSrvLookup,
  ) {}

  async resolve(serverName: string): Promise<ServerAddress> {
    const peer = this.peers[serverName];
    if (peer !== undefined) return peerAddress(serverName, peer);
    const parsed = parseServerName(serverName);
    if (!parsed) throw new ServerNameError(serverName);
    const host = connectHost(parsed.host);
    // 1 and 2: an IP literal, or a name with an explicit port.
    if (parsed.ipLiteral || parsed.port !== null) {
      return { host, port: parsed.port ?? DEFAULT_FEDERATION_PORT, hostHeader: serverName, tlsName: host };
    }
    // 3: .well-known delegation.
    const delegated = await this.wellKnown.delegation(parsed.host);
    const target = delegated === null ? null : parseServerName(delegated);
    if (target) {
      const dhost = connectHost(target.host);
      if (target.ipLiteral || target.port !== null) {
        return { host: dhost, port: target.port ?? DEFAULT_FEDERATION_PORT, hostHeader: delegated!, tlsName: dhost };
      }
      return (await this.viaSrv(target.host)) ?? { host: dhost, port: DEFAULT_FEDERATION_PORT, hostHeader: target.host, tlsName: target.host };
    }
    // 4-6: SRV on the server name itself, then 8448.
    return (await this.viaSrv(parsed.host)) ?? { host, port: DEFAULT_FEDERATION_PORT, hostHeader: parsed.host, tlsName: parsed.host };
  }

  /** SRV _matrix-fed._tcp, then _matrix._tcp; Host and certificate stay the name asked about. */
  private async viaSrv(name: string): Promise<ServerAddress | null> {
    for (const service of ['_matrix-fed._tcp', '_matrix._tcp']) {
      const best = pickSrv(await this.srv(`${service}.${name}`));
      if (best) return { host: best.name, port: best.port, hostHeader: name, tlsName: name };
    }
    return null;
  }
}

/**
 * The record to use: lowest priority first, the heaviest weight among those (RFC 2782 picks by weighted
 * chance; a fixed pick keeps one peer on one target). A lone "." target means "no such service".
 */
export function pickSrv(records: SrvRecord[]): SrvRecord | null {
  const usable = records.filter((r) => r.name !== '' && r.name !== '.');
  usable.sort((a, b) => a.priority - b.priority || b.weight - a.weight);
  return usable[0] ?? null;
}
