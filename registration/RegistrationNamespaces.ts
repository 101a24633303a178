import type { AppserviceRegistration, Namespace } from './AppserviceRegistration.js';
import { escapeRegex } from './escapeRegex.js';
import { RegistrationError } from './RegistrationError.js';

interface CompiledNamespace {
  namespace: Namespace;
  pattern: RegExp;
}

/**
 * Answers "is this ID in the appservice's namespaces?". A regex matches from the start of the ID
 * and need not reach its end, as Synapse's Python `re.match` does. Matching is on the ID alone: whether
 * the user is local is the caller's question (user namespaces only cover local users).
 */
export class RegistrationNamespaces {
  /** `@<sender_localpart>:<serverName>`: it exists implicitly and counts as an exclusive user. */
  readonly senderUserId: string;
  private readonly senderNamespace: Namespace;
  private readonly users: CompiledNamespace[];
  private readonly aliases: CompiledNamespace[];
  private readonly rooms: CompiledNamespace[];

  constructor(reg: AppserviceRegistration, serverName: string) {
    this.senderUserId = `@${reg.sender_localpart}:${serverName}`;
    this.senderNamespace = { regex: escapeRegex(this.senderUserId), exclusive: true };
    this.users = compile(reg, 'users');
    this.aliases = compile(reg, 'aliases');
    this.rooms = compile(reg, 'rooms');
  }

  /** The matching namespace (an exclusive one if several match), or null. */
  matchUser(userId: string): Namespace | null {
    if (this.isSender(userId)) return this.senderNamespace;
    return firstMatch(this.users, userId);
  }

  matchAlias(alias: string): Namespace | null {
    return firstMatch(this.aliases, alias);
  }

  matchRoom(roomId: string): Namespace | null {
    return firstMatch(this.rooms, roomId);
  }

  isSender(userId: string): boolean {
    return userId === this.senderUserId;
  }
}

function compile(reg: AppserviceRegistration, kind: 'users' | 'aliases' | 'rooms'): CompiledNamespace[] {
  return (reg.namespaces[kind] ?? []).map((namespace, i) => {
    try {
      return { namespace, pattern: new RegExp(`^(?:${namespace.regex})`) };
    } catch (err) {
      throw new RegistrationError(`registration ${reg.id}`, [
        `namespaces.${kind}[${i}].regex: ${JSON.stringify(namespace.regex)} does not compile (${String(err)})`,
      ]);
    }
  });
}

// Exclusive wins: callers ask mostly to enforce exclusivity, and a non-exclusive hit must not hide it.
function firstMatch(list: CompiledNamespace[], id: string): Namespace | null {
  let found: Namespace | null = null;
  for (const { namespace, pattern } of list) {
    if (!pattern.test(id)) continue;
    if (namespace.exclusive) return namespace;
    found ??= namespace;
  }
  return found;
}
