// Why an IRC connection did not come up or dropped, in words an operator acts on: the socket's error
// codes and the server's refusals become a kind (what to fix) and a sentence (what happened).

export type FailureKind = 'refused' | 'dns' | 'unreachable' | 'tls' | 'password' | 'sasl' | 'nick' | 'banned' | 'timeout' | 'closed';

export interface ConnectionFailure {
  kind: FailureKind;
  /** What happened, e.g. "connection refused by irc.example.org:6667". */
  text: string;
}

const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME/;

/** The socket closed with this error (or none): what went wrong, for the server `host:port`. */
export function socketFailure(err: unknown, host: string, port: number): ConnectionFailure {
  const server = `${host}:${port}`;
  // Not `instanceof Error`: errors from Node's own modules come from another realm under some test runners.
  if (typeof err !== 'object' || err === null || typeof (err as Error).message !== 'string') return { kind: 'closed', text: `${server} closed the connection` };
  const error = err as NodeJS.ErrnoException;
  const code = String(error.code ?? '');
  switch (code) {
    case 'ECONNREFUSED':
      return { kind: 'refused', text: `connection refused by ${server}` };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return { kind: 'dns', text: `the host name ${host} was not found (${code})` };
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return { kind: 'unreachable', text: `${server} is unreachable (${code})` };
    case 'ECONNRESET':
    case 'EPIPE':
      return { kind: 'closed', text: `${server} reset the connection (${code})` };
    default:
      if (TLS_CODES.test(code) || /certificate|ssl|tls/i.test(error.message)) return { kind: 'tls', text: `TLS with ${server} failed: ${error.message}` };
      return { kind: 'closed', text: `${server}: ${error.message}` };
  }
}

/** What to change for a failure of this kind, naming the keys of the network's config section (`key`). */
export function fixFor(kind: FailureKind, key: string): string | null {
  switch (kind) {
    case 'refused':
    case 'dns':
    case 'unreachable':
      return `check ${key}.host and ${key}.port, and that the IRC server runs`;
    case 'tls':
      return `check ${key}.tls and ${key}.port (TLS is usually on 6697, plain text on 6667)`;
    case 'timeout':
      return `check that ${key}.host and ${key}.port lead to an IRC server (TLS against a plain-text port, or the reverse, looks like this)`;
    case 'password':
      return `set ${key}.password to the server's password`;
    case 'sasl':
      return `check the account and password of ${key}.bot.sasl (or ${key}.sasl)`;
    case 'nick':
      return `set ${key}.bot.nick to a nick nobody else uses`;
    case 'banned':
      return 'ask the network\'s operators why the bridge is banned';
    case 'closed':
      return null;
  }
}
