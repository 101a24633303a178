// `!commands` in a Matrix user's IRC admin room. Every argument is validated before it can reach an IRC
// line (a nick or channel is one token: no spaces, CR/LF or control characters).
import type { IrcBridgeState } from './IrcBridgeState.js';
import type { IrcNetwork } from './IrcNetwork.js';
import { isValidChannelName, isSafeIrcToken } from './IrcTextSanitizer.js';
import { isValidNick } from './PuppetNickPolicy.js';

export interface AdminCommandContext {
  userId: string;
  networks: IrcNetwork[];
  state: IrcBridgeState;
  displayName: (userId: string) => Promise<string | null>;
  /** Ensures the portal room for a channel exists and invites the user; returns its alias. */
  openPortal: (network: IrcNetwork, channel: string, key: string | undefined, userId: string) => Promise<string>;
}

export const ADMIN_HELP = [
  'IRC bridge commands (the network may be left out when there is only one):',
  '!networks — list the IRC networks',
  '!nick [network] <nick> — choose your IRC nick (!nick [network] - to go back to your display name)',
  '!join [network] <#channel> [key] — open the Matrix room for a channel and invite you',
  '!part [network] <#channel> — leave a channel on IRC',
  '!whois [network] <nick> — who is behind a nick',
  '!quit [network] — disconnect your IRC connection (your next message reconnects)',
  '!reconnect [network] — drop and re-open your IRC connection',
].join('\n');

function pickNetwork(args: string[], networks: IrcNetwork[]): { network: IrcNetwork; rest: string[] } | string {
  const named = networks.find((n) => n.id === args[0]);
  if (named !== undefined) return { network: named, rest: args.slice(1) };
  if (networks.length === 1) return { network: networks[0] as IrcNetwork, rest: args };
  return `Which network? One of: ${networks.map((n) => n.id).join(', ')}`;
}

/** Runs one command line; returns the reply text. Never throws for bad input. */
export async function runAdminCommand(line: string, ctx: AdminCommandContext): Promise<string> {
  const [rawCommand = '', ...args] = line.trim().split(/\s+/);
  const command = rawCommand.toLowerCase();
  if (command === '!help' || command === '!') return ADMIN_HELP;
  if (command === '!networks') return ctx.networks.map((n) => `${n.id}: ${n.settings.name} (${n.settings.host}:${n.settings.port}, ${n.bot.state})`).join('\n');
  const picked = pickNetwork(args, ctx.networks);
  if (typeof picked === 'string') return picked;
  const { network, rest } = picked;
  const puppet = network.puppets.get(ctx.userId);
  try {
    switch (command) {
      case '!nick': {
        const nick = rest[0];
        if (nick === undefined) return `Your nick on ${network.id}: ${puppet?.connection.nick ?? '(not connected)'}`;
        if (nick === '-') {
          await ctx.state.setFixedNick(network.id, ctx.userId, null);
          const wanted = network.puppets.wantedNick(ctx.userId, await ctx.displayName(ctx.userId), null);
          if (puppet !== undefined) {
            puppet.fixedNick = null;
            return `Your nick on ${network.id} is now ${await puppet.connection.changeNick(wanted)}.`;
          }
          return `Your nick on ${network.id} will follow your display name (${wanted}).`;
        }
        if (!isValidNick(nick, network.nickLen)) return `"${nick}" is not a valid IRC nick here (letters, digits and []\\\`_^{|}-, at most ${network.nickLen} characters, not starting with a digit or -).`;
        if (network.puppets.ownerOf(nick) !== undefined && network.puppets.ownerOf(nick) !== ctx.userId) return `${nick} is used by another Matrix user.`;
        await ctx.state.setFixedNick(network.id, ctx.userId, nick);
        if (puppet === undefined) return `Your nick on ${network.id} will be ${nick} when you next speak there.`;
        puppet.fixedNick = nick;
        const got = await puppet.connection.changeNick(nick);
        return `Your nick on ${network.id} is now ${got}.`;
      }
      case '!join': {
        const channel = rest[0];
        const key = rest[1];
        if (channel === undefined || !isValidChannelName(channel, '#&+!')) return 'Usage: !join [network] <#channel> [key]';
        if (key !== undefined && !isSafeIrcToken(key)) return 'That channel key cannot be sent to IRC.';
        const alias = await ctx.openPortal(network, channel, key, ctx.userId);
        return `Invited you to ${alias} (${channel} on ${network.id}).`;
      }
      case '!part': {
        const channel = rest[0];
        if (channel === undefined || !isValidChannelName(channel, '#&+!')) return 'Usage: !part [network] <#channel>';
        if (puppet === undefined || !puppet.connection.isJoined(channel)) return `You are not in ${channel} on ${network.id}.`;
        puppet.connection.part(channel, 'Left from Matrix');
        await ctx.state.setPuppetChannels(network.id, ctx.userId, puppet.connection.channels);
        return `Left ${channel} on ${network.id}.`;
      }
      case '!whois': {
        const nick = rest[0];
        if (nick === undefined || !isSafeIrcToken(nick)) return 'Usage: !whois [network] <nick>';
        const owner = network.puppets.ownerOf(nick);
        const w = await network.whois(nick);
        if (w.error !== undefined) return `${nick} is not on ${network.id}.`;
        const parts = [`${w.nick} is ${w.ident ?? '?'}@${w.hostname ?? '?'} (${w.real_name ?? ''})`];
        if (owner !== undefined) parts.push(`Matrix user: ${owner}`);
        if (w.account !== undefined) parts.push(`account: ${w.account}`);
        if (w.channels !== undefined) parts.push(`channels: ${w.channels}`);
        if (w.server !== undefined) parts.push(`server: ${w.server}`);
        if (w.idle !== undefined) parts.push(`idle: ${w.idle}s`);
        if (w.away !== undefined) parts.push(`away: ${w.away}`);
        return parts.join('\n');
      }
      case '!quit': {
        if (puppet === undefined) return `You are not connected to ${network.id}.`;
        await network.puppets.remove(ctx.userId, 'Disconnected from Matrix');
        await ctx.state.setPuppetChannels(network.id, ctx.userId, null);
        return `Disconnected from ${network.id}. Your next message there reconnects you.`;
      }
      case '!reconnect': {
        if (puppet === undefined) return `You are not connected to ${network.id}; your next message connects you.`;
        puppet.connection.reconnectNow();
        return `Reconnecting to ${network.id}.`;
      }
      default:
        return `Unknown command ${command}. ${ADMIN_HELP}`;
    }
  } catch (err) {
    return `${command} failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}
