// `!email ...` commands, in a user's admin room (a DM with @email_bridge) or in any room the bridge is
// in: addresses, blocked senders, and a room's own address and settings. Bad input gets a reply, never a
// throw.
import type { BridgeContext } from 'patchbay-matrix/plugin';
import type { AddressBook } from './AddressBook.js';
import type { EmailConfig } from './EmailConfig.js';
import { roomSettings, type RoomSettings } from './InboundDelivery.js';
import { parseAddress } from './MailAddress.js';

export const EMAIL_HELP = [
  'Email bridge commands:',
  '!email addresses — the addresses that reach you, and the one you send from',
  '!email address add <name>@<domain> — one more address of yours (mail you send goes out from it)',
  '!email address remove <address>',
  '!email block <address or domain> — refuse mail from it (550 at SMTP time)',
  '!email unblock <address or domain>, !email blocked — the list',
  '!email room — this room\'s address and settings',
  '!email room address <name> — give this room the address room+<name>@<domain> (power level 50)',
  '!email room posting members|anyone — who may mail the room (anyone: a first mail subscribes the sender)',
  '!email room quotes on|off — strip quoted replies and signatures in this room',
].join('\n');

const DOMAIN = /^([a-z0-9-]+\.)+[a-z0-9-]+$/;

export class AdminCommands {
  constructor(
    private readonly ctx: BridgeContext<EmailConfig>,
    private readonly addresses: AddressBook,
  ) {}

  /** True when the user blocked this sender address, or its domain (or a parent domain). */
  async isBlocked(sender: string, userId: string): Promise<boolean> {
    const list = await this.blocked(userId);
    if (list.length === 0) return false;
    const domain = sender.slice(sender.lastIndexOf('@') + 1);
    return list.some((entry) => entry === sender || entry === domain || domain.endsWith(`.${entry}`));
  }

  async run(line: string, userId: string, roomId: string): Promise<string> {
    const [, sub = 'help', ...args] = line.trim().split(/\s+/);
    try {
      switch (sub.toLowerCase()) {
        case 'addresses': {
          const all = await this.addresses.addressesOf(userId);
          const from = await this.addresses.addressOf(userId);
          if (all.length === 0) return 'No address reaches you yet. Claim one: !email address add <name>@<domain>';
          return `Your addresses: ${all.join(', ')} (and any <name>+<tag>@ of them).\nYou send from: ${from ?? '(none)'}`;
        }
        case 'address': {
          const [verb, address] = args;
          if (verb === 'add' && address !== undefined) return await this.addresses.claim(address, userId);
          if (verb === 'remove' && address !== undefined) return await this.addresses.release(address, userId);
          return 'Usage: !email address add|remove <address>';
        }
        case 'block':
        case 'unblock': {
          const entry = args[0]?.toLowerCase();
          const valid = entry !== undefined && (parseAddress(entry) !== null || DOMAIN.test(entry));
          if (!valid) return `Usage: !email ${sub} <address or domain>`;
          const list = new Set(await this.blocked(userId));
          if (sub === 'block') list.add(parseAddress(entry)?.address ?? entry);
          else list.delete(parseAddress(entry)?.address ?? entry);
          await this.ctx.store.set(`block:${userId}`, JSON.stringify([...list].sort()));
          return sub === 'block' ? `Mail from ${entry} is refused from now on.` : `Mail from ${entry} reaches you again.`;
        }
        case 'blocked': {
          const list = await this.blocked(userId);
          return list.length === 0 ? 'You block nobody.' : `You block: ${list.join(', ')}`;
        }
        case 'room':
          return await this.room(args, userId, roomId);
        default:
          return EMAIL_HELP;
      }
    } catch (err) {
      return `!email ${sub} failed: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  private async room(args: string[], userId: string, roomId: string): Promise<string> {
    const [what, value] = args;
    const settings = await roomSettings(this.ctx, roomId);
    const name = await this.addresses.roomNameOf(roomId);
    if (what === undefined) {
      const address = name !== null ? this.addresses.roomAddress(name) : '(none: !email room address <name>)';
      return `Address: ${address}\nPosting: ${settings.posting}\nQuote stripping: ${settings.strip_quotes ?? this.ctx.config.content.strip_quotes ? 'on' : 'off'}`;
    }
    if (!(await this.mayConfigure(userId, roomId))) return 'Only a moderator of this room (power level 50) may change its email settings.';
    if (what === 'address' && value !== undefined) return this.addresses.setRoomAddress(roomId, value.toLowerCase());
    const next: RoomSettings = { ...settings };
    if (what === 'posting' && (value === 'members' || value === 'anyone')) next.posting = value;
    else if (what === 'quotes' && (value === 'on' || value === 'off')) next.strip_quotes = value === 'on';
    else return 'Usage: !email room [address <name> | posting members|anyone | quotes on|off]';
    await this.ctx.store.set(`room-set:${roomId}`, JSON.stringify(next));
    return `Done. Posting: ${next.posting}; quote stripping: ${next.strip_quotes ?? this.ctx.config.content.strip_quotes ? 'on' : 'off'}.`;
  }

  private async mayConfigure(userId: string, roomId: string): Promise<boolean> {
    const pl = (await this.ctx.bot.getStateEvent(roomId, 'm.room.power_levels', '')) as { users?: Record<string, number>; users_default?: number } | null;
    if (pl === null) return true;
    return (pl.users?.[userId] ?? pl.users_default ?? 0) >= 50;
  }

  private async blocked(userId: string): Promise<string[]> {
    const json = await this.ctx.store.get(`block:${userId}`);
    return json !== null ? (JSON.parse(json) as string[]) : [];
  }
}
