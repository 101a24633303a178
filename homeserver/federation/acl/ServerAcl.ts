// Which servers may take part: the spec's m.room.server_acl rules, also used for the config's
// homeserver.federation.servers list. Patterns are case-insensitive globs (`*`, `?`) matched against the
// server name without its port, through matching/Glob (never a RegExp built from someone's input):
//   1. an IP literal is denied when allow_ip_literals is false;
//   2. a name matching a `deny` pattern is denied;
//   3. a name matching an `allow` pattern is allowed;
//   4. anything else is denied (so no `allow` list denies every server).
// A room without an m.room.server_acl event allows everyone: callers check for the event first.
import { GlobList } from '../../matching/GlobList.js';
import { parseServerName } from '../discovery/ServerName.js';

export interface ServerAclRules {
  allow: readonly string[];
  deny: readonly string[];
  allowIpLiterals: boolean;
}

const GLOB = { questionMark: true, caseInsensitive: true } as const;

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
}

export class ServerAcl {
  private readonly allow: GlobList;
  private readonly deny: GlobList;
  private readonly allowIpLiterals: boolean;

  constructor(rules: ServerAclRules) {
    this.allow = new GlobList(rules.allow, GLOB);
    this.deny = new GlobList(rules.deny, GLOB);
    this.allowIpLiterals = rules.allowIpLiterals;
  }

  /**
   * The rules of an m.room.server_acl event's content: `allow` and `deny` default to empty lists and
   * their non-string entries are ignored; `allow_ip_literals` is true unless it is the boolean false.
   */
  static fromContent(content: unknown): ServerAcl {
    const c = typeof content === 'object' && content !== null && !Array.isArray(content) ? (content as Record<string, unknown>) : {};
    return new ServerAcl({ allow: strings(c['allow']), deny: strings(c['deny']), allowIpLiterals: c['allow_ip_literals'] !== false });
  }

  allows(serverName: string): boolean {
    const parsed = parseServerName(serverName);
    const host = parsed?.host ?? serverName;
    if (parsed?.ipLiteral && !this.allowIpLiterals) return false;
    if (this.deny.matchesAny(host)) return false;
    return this.allow.matchesAny(host);
  }
}
