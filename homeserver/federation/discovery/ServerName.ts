// Server names as the appendices define them: a DNS name, an IPv4 address or a bracketed IPv6 address,
// with an optional port.
import { isIP } from 'node:net';

export interface ParsedServerName {
  /** The host as written (IPv6 keeps its brackets). */
  host: string;
  port: number | null;
  /** The host is an IP address. */
  ipLiteral: boolean;
}

const DNS_NAME = /^[A-Za-z0-9.-]{1,255}$/;

/** The parts of a server name (or a delegated `host[:port]`), or null when it is not one. */
export function parseServerName(name: string): ParsedServerName | null {
  const m = /^(\[[^\]]+\]|[^:[\]]+)(?::([0-9]{1,5}))?$/.exec(name);
  if (!m) return null;
  const host = m[1]!;
  const port = m[2] === undefined ? null : Number(m[2]);
  if (port !== null && (port < 1 || port > 65535)) return null;
  if (host.startsWith('[')) return isIP(host.slice(1, -1)) === 6 ? { host, port, ipLiteral: true } : null;
  if (isIP(host) === 4) return { host, port, ipLiteral: true };
  return DNS_NAME.test(host) ? { host, port, ipLiteral: false } : null;
}

/** The host to connect to (an IPv6 address without its brackets). */
export function connectHost(host: string): string {
  return host.startsWith('[') ? host.slice(1, -1) : host;
}
