// Who an address on a bridged domain reaches: a Matrix user (`alice@`, `alice+tag@`), a room
// (`room+dev@`), or the bounce handler (`bounces+<id>@`). Answered at RCPT time, so an unknown address
// is refused there (550) instead of bouncing later. Claimed addresses live in the plugin store (shared by
// every process); `addresses.map` from the config is written there at start.
import { LRUCache } from 'lru-cache';
import type { BridgeContext } from 'patchbay-matrix/plugin';
import type { EmailConfig } from './EmailConfig.js';
import { parseAddress } from './MailAddress.js';

export type Recipient =
  | { kind: 'user'; userId: string; address: string }
  | { kind: 'room'; roomId: string; name: string; address: string; unsubscribe: boolean }
  | { kind: 'bounce'; token: string; address: string };

const LOCALPART = /^[a-z0-9._=/-]+$/;
const ROOM_NAME = /^[a-z0-9._-]{1,64}$/;

export class AddressBook {
  private readonly domains: Set<string>;
  /** Whether `@<localpart>:<server>` exists, for `users: auto` (the homeserver is asked at most once a minute per user). */
  private readonly existing = new LRUCache<string, boolean>({ max: 10_000, ttl: 60_000 });

  constructor(
    private readonly ctx: BridgeContext<EmailConfig>,
    private readonly ghostPrefix: string,
  ) {
    this.domains = new Set(ctx.config.domains.map((d) => d.toLowerCase()));
  }

  get primaryDomain(): string {
    return this.ctx.config.domains[0]!.toLowerCase();
  }

  isLocalDomain(domain: string): boolean {
    return this.domains.has(domain.toLowerCase());
  }

  /** Writes the config's fixed addresses (idempotent; a later claim of the same address is refused). */
  async loadFixed(): Promise<void> {
    for (const [address, userId] of Object.entries(this.ctx.config.addresses.map)) {
      const a = parseAddress(address);
      if (a === null || !this.isLocalDomain(a.domain)) throw new Error(`bridges.email.addresses.map: ${address} is not on one of bridges.email.domains`);
      await this.setUserAddress(a.address, userId);
    }
  }

  /** What a recipient address reaches, or null: not ours, or nobody there. */
  async resolve(raw: string): Promise<Recipient | null> {
    const a = parseAddress(raw);
    if (a === null || !this.isLocalDomain(a.domain)) return null;
    const { addresses } = this.ctx.config;
    if (a.base === addresses.bounce_prefix && a.tag !== null) return { kind: 'bounce', token: a.tag, address: a.address };
    if (a.base === addresses.room_prefix && a.tag !== null) {
      const [name = '', extra] = a.tag.split('+');
      const roomId = await this.ctx.store.get(`room-addr:${name}`);
      if (roomId === null || (extra !== undefined && extra !== 'unsubscribe')) return null;
      return { kind: 'room', roomId, name, address: a.address, unsubscribe: extra === 'unsubscribe' };
    }
    const claimed = (await this.ctx.store.get(`user-addr:${a.address}`)) ?? (await this.ctx.store.get(`user-addr:${a.base}@${a.domain}`));
    if (claimed !== null) return { kind: 'user', userId: claimed, address: a.address };
    if (addresses.users === 'auto' && LOCALPART.test(a.base) && !a.base.startsWith(this.ghostPrefix)) {
      const userId = `@${a.base}:${this.ctx.serverName}`;
      if (userId !== this.ctx.bot.userId && (await this.exists(userId))) return { kind: 'user', userId, address: a.address };
    }
    return null;
  }

  /** The address a Matrix user's mail goes out from: the one they chose, else `<localpart>@<first domain>` (auto). */
  async addressOf(userId: string): Promise<string | null> {
    const chosen = await this.ctx.store.get(`user-primary:${userId}`);
    if (chosen !== null) return chosen;
    const local = /^@([^:]+):(.+)$/.exec(userId);
    if (this.ctx.config.addresses.users === 'auto' && local !== null && local[2] === this.ctx.serverName && LOCALPART.test(local[1]!)) {
      return `${local[1]}@${this.primaryDomain}`;
    }
    return null;
  }

  /** Every address of a user: the automatic one and those claimed or configured. */
  async addressesOf(userId: string): Promise<string[]> {
    const all = new Set<string>();
    const auto = this.ctx.config.addresses.users === 'auto' ? /^@([^:]+):(.+)$/.exec(userId) : null;
    if (auto !== null && auto[2] === this.ctx.serverName && LOCALPART.test(auto[1]!)) for (const d of this.domains) all.add(`${auto[1]}@${d}`);
    for (const key of await this.ctx.store.keys('user-addr:')) {
      if ((await this.ctx.store.get(key)) === userId) all.add(key.slice('user-addr:'.length));
    }
    return [...all].sort();
  }

  /** Gives a user one more address; refused when it is someone else's or not on a bridged domain. */
  async claim(raw: string, userId: string): Promise<string> {
    const a = parseAddress(raw);
    if (a === null || !this.isLocalDomain(a.domain)) return `${raw} is not an address on ${[...this.domains].join(', ')}.`;
    if (a.tag !== null || a.base === this.ctx.config.addresses.room_prefix || a.base === this.ctx.config.addresses.bounce_prefix) {
      return `${a.address} is reserved (a + address, a room address or the bounce address).`;
    }
    const owner = await this.resolve(a.address);
    if (owner !== null && !(owner.kind === 'user' && owner.userId === userId)) return `${a.address} is already taken.`;
    await this.setUserAddress(a.address, userId);
    return `${a.address} now reaches you; mail you send goes out from it.`;
  }

  async release(raw: string, userId: string): Promise<string> {
    const a = parseAddress(raw);
    if (a === null || (await this.ctx.store.get(`user-addr:${a.address}`)) !== userId) return `${raw} is not one of your claimed addresses.`;
    await this.ctx.store.delete(`user-addr:${a.address}`);
    await this.ctx.identities.remove('email', a.address);
    if ((await this.ctx.store.get(`user-primary:${userId}`)) === a.address) await this.ctx.store.delete(`user-primary:${userId}`);
    return `${a.address} no longer reaches you.`;
  }

  /** Gives a room the address `<room_prefix>+<name>@<first domain>`. */
  async setRoomAddress(roomId: string, name: string): Promise<string> {
    if (!ROOM_NAME.test(name)) return 'A room address name is 1-64 of a-z 0-9 . _ -';
    const taken = await this.ctx.store.get(`room-addr:${name}`);
    if (taken !== null && taken !== roomId) return `${this.roomAddress(name)} belongs to another room.`;
    const previous = await this.ctx.store.get(`room-name:${roomId}`);
    if (previous !== null && previous !== name) {
      await this.ctx.store.delete(`room-addr:${previous}`);
      await this.ctx.links.unlink(roomId, { network: 'email', location: `room:${previous}` });
    }
    await this.ctx.store.set(`room-addr:${name}`, roomId);
    await this.ctx.store.set(`room-name:${roomId}`, name);
    // Linked, so the room's messages reach the bridge whoever is in it.
    await this.ctx.links.link(roomId, { network: 'email', location: `room:${name}` }, { kind: 'list' });
    return `This room is now ${this.roomAddress(name)}: mail to it is posted here, and what is said here is mailed to the room's email members.`;
  }

  async roomNameOf(roomId: string): Promise<string | null> {
    return this.ctx.store.get(`room-name:${roomId}`);
  }

  roomAddress(name: string): string {
    return `${this.ctx.config.addresses.room_prefix}+${name}@${this.primaryDomain}`;
  }

  bounceAddress(token: string, domain: string): string {
    return `${this.ctx.config.addresses.bounce_prefix}+${token}@${domain}`;
  }

  private async setUserAddress(address: string, userId: string): Promise<void> {
    await this.ctx.store.set(`user-addr:${address}`, userId);
    await this.ctx.store.setIfAbsent(`user-primary:${userId}`, address);
    await this.ctx.identities.set('email', address, userId);
  }

  private async exists(userId: string): Promise<boolean> {
    const known = this.existing.get(userId);
    if (known !== undefined) return known;
    // Homeservers give every account a display name (its localpart) at registration; an unknown user has
    // no profile at all.
    const profile = await this.ctx.bot.getProfile(userId);
    const found = profile.displayName !== undefined || profile.avatarUrl !== undefined;
    this.existing.set(userId, found);
    return found;
  }
}
