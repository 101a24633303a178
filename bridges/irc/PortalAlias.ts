// Portal room aliases: `#irc_<network>_<channel>:<server>`, e.g. `#irc_libera_#matrix:example.org`.
// A channel given without its `#` (`#irc_libera_matrix:...`) means the `#` channel, since `#` is what
// people type least willingly inside an alias. Network ids cannot contain `_`, so the first `_` after
// the prefix ends the network.
import { isValidChannelName } from './IrcTextSanitizer.js';

export interface PortalTarget {
  network: string;
  channel: string;
}

export function parsePortalAlias(alias: string, aliasPrefix: string, serverName: string): PortalTarget | null {
  const head = `#${aliasPrefix}`;
  const tail = `:${serverName}`;
  if (!alias.startsWith(head) || !alias.endsWith(tail)) return null;
  const middle = alias.slice(head.length, alias.length - tail.length);
  const sep = middle.indexOf('_');
  if (sep <= 0) return null;
  const network = middle.slice(0, sep);
  let channel = middle.slice(sep + 1);
  if (!/^[#&+!]/.test(channel)) channel = `#${channel}`;
  if (!isValidChannelName(channel, '#&+!')) return null;
  return { network, channel };
}

export function portalAlias(target: PortalTarget, aliasPrefix: string, serverName: string): string {
  return `#${aliasPrefix}${target.network}_${target.channel}:${serverName}`;
}

/** Glob match for allow/deny lists (`*` any run, `?` one char), case-insensitive like channel names. */
export function globMatch(pattern: string, text: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(text);
}

export function portalAllowed(channel: string, allow: string[], deny: string[]): boolean {
  return allow.some((p) => globMatch(p, channel)) && !deny.some((p) => globMatch(p, channel));
}
