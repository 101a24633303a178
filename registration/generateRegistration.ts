import { randomBytes } from 'node:crypto';
import type { AppserviceRegistration, Namespace } from './AppserviceRegistration.js';
import { escapeRegex } from './escapeRegex.js';
import { RegistrationError } from './RegistrationError.js';
import { validateRegistration } from './validateRegistration.js';

/** What one bridge claims: its protocol and the localpart prefixes of its ghosts and portal aliases. */
export interface BridgeNamespaceSpec {
  protocol: string;
  ghostPrefix: string;
  aliasPrefix: string;
  /** Further third-party protocol ids it answers lookups for (`m.protocol.pstn`). */
  thirdPartyProtocols?: string[];
}

export interface GenerateRegistrationOptions {
  id: string;
  url: string | null;
  serverName: string;
  senderLocalpart: string;
  /** Every bridge the host runs: one registration covers them all. */
  bridges: BridgeNamespaceSpec[];
  receiveEphemeral?: boolean;
}

// The spec's user ID localpart grammar; alias localparts only exclude ':' (and NUL).
const GHOST_PREFIX = /^[a-z0-9._=\-/+]+$/;
const ALIAS_PREFIX = /^[^:\s\0]+$/;
const PROTOCOL = /^[A-Za-z0-9._-]+$/;

/**
 * A fresh registration with new random tokens and, per bridge, exclusive user and alias namespaces
 * for its prefixes on `serverName`. Throws RegistrationError when the options are unusable.
 */
export function generateRegistration(opts: GenerateRegistrationOptions): AppserviceRegistration {
  checkBridges(opts.bridges);
  const server = escapeRegex(opts.serverName);
  const users: Namespace[] = opts.bridges.map((b) => ({ regex: `@${escapeRegex(b.ghostPrefix)}.*:${server}`, exclusive: true }));
  const aliases: Namespace[] = opts.bridges.map((b) => ({ regex: `#${escapeRegex(b.aliasPrefix)}.*:${server}`, exclusive: true }));

  const asToken = randomToken();
  let hsToken = randomToken();
  while (hsToken === asToken) hsToken = randomToken();

  const reg: AppserviceRegistration = {
    id: opts.id,
    url: opts.url,
    as_token: asToken,
    hs_token: hsToken,
    sender_localpart: opts.senderLocalpart,
    rate_limited: false,
    receive_ephemeral: opts.receiveEphemeral ?? false,
    protocols: [...new Set(opts.bridges.flatMap((b) => [b.protocol, ...(b.thirdPartyProtocols ?? [])]))],
    namespaces: { users, aliases, rooms: [] },
  };
  // Synapse before receive_ephemeral was stable reads the MSC2409 key.
  if (opts.receiveEphemeral) reg['de.sorunome.msc2409.push_ephemeral'] = true;
  return validateRegistration(reg, `registration ${opts.id}`);
}

function randomToken(): string {
  return randomBytes(32).toString('hex');
}

function checkBridges(bridges: BridgeNamespaceSpec[]): void {
  const problems: string[] = [];
  for (const b of bridges) {
    if (!PROTOCOL.test(b.protocol)) problems.push(`bridge ${JSON.stringify(b.protocol)}: the protocol must be letters, digits, ".", "_" or "-", e.g. irc`);
    for (const extra of b.thirdPartyProtocols ?? []) {
      if (!PROTOCOL.test(extra)) problems.push(`bridge ${b.protocol}: the third-party protocol ${JSON.stringify(extra)} must be letters, digits, ".", "_" or "-", e.g. m.protocol.pstn`);
    }
    if (!GHOST_PREFIX.test(b.ghostPrefix)) {
      problems.push(`bridge ${b.protocol}: ghost prefix ${JSON.stringify(b.ghostPrefix)} must be non-empty lowercase user ID characters (a-z 0-9 . _ = - / +), e.g. ${b.protocol}_`);
    }
    if (!ALIAS_PREFIX.test(b.aliasPrefix)) {
      problems.push(`bridge ${b.protocol}: alias prefix ${JSON.stringify(b.aliasPrefix)} must be non-empty, without ":" or spaces, e.g. ${b.protocol}_`);
    }
  }
  // Overlapping prefixes would make two bridges claim the same ghosts or aliases.
  for (const [i, a] of bridges.entries()) {
    for (const b of bridges.slice(i + 1)) {
      if (a.ghostPrefix.startsWith(b.ghostPrefix) || b.ghostPrefix.startsWith(a.ghostPrefix)) {
        problems.push(`bridges ${a.protocol} and ${b.protocol}: ghost prefixes "${a.ghostPrefix}" and "${b.ghostPrefix}" overlap; give each bridge its own`);
      }
      if (a.aliasPrefix.startsWith(b.aliasPrefix) || b.aliasPrefix.startsWith(a.aliasPrefix)) {
        problems.push(`bridges ${a.protocol} and ${b.protocol}: alias prefixes "${a.aliasPrefix}" and "${b.aliasPrefix}" overlap; give each bridge its own`);
      }
    }
  }
  if (problems.length > 0) throw new RegistrationError('registration options', problems);
}
