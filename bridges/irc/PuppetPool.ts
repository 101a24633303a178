// One IRC connection per Matrix user who speaks on a network: created lazily, connected through the
// network's pacer, named by the nick policy (a nick in use gets an alternative, never someone else's
// identity), disconnected after an idle period if configured, and evicted least-recently-used when the
// network's connection limit is reached.
import type { Logger } from 'patchbay-matrix/plugin';
import type { Clock } from './Clock.js';
import { systemClock } from './Clock.js';
import type { ConnectPacer } from './ConnectPacer.js';
import type { NetworkSettings } from './IrcConfig.js';
import { IrcConnection } from './IrcConnection.js';
import { type CaseMapping, foldCase } from './IrcCaseMapping.js';
import { alternativeNick, nickFromTemplate } from './PuppetNickPolicy.js';

export interface Puppet {
  readonly userId: string;
  readonly connection: IrcConnection;
  lastActive: number;
  /** Set by `!nick`: the display name no longer decides the nick. */
  fixedNick: string | null;
}

export interface PuppetPoolHooks {
  /** A puppet registered or changed nick (old is null on registration). */
  onNick?: (userId: string, oldNick: string | null, newNick: string) => void;
  /** The puppet's connection gave up; its queued messages failed. */
  onFailed?: (userId: string, reason: string) => void;
  /** Wires network-level listeners (PMs, kicks) to a new puppet's client. */
  onCreated?: (puppet: Puppet) => void;
  /** The puppet was disconnected (idle, evicted, !quit) and removed from the pool. */
  onRemoved?: (userId: string, reason: string) => void;
}

export class PuppetPool {
  private readonly puppets = new Map<string, Puppet>();
  /** folded nick -> Matrix user id, for every nick a puppet holds or is registering with. */
  private readonly owners = new Map<string, string>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly clock: Clock;

  constructor(
    private readonly settings: NetworkSettings,
    private readonly pacer: ConnectPacer,
    private readonly logger: Logger,
    private readonly server: { caseMapping(): CaseMapping; nickLen(): number },
    private readonly hooks: PuppetPoolHooks = {},
    clock?: Clock,
  ) {
    this.clock = clock ?? systemClock;
    if (settings.puppets.idleTimeoutMs > 0) {
      this.sweepTimer = setInterval(() => void this.sweepIdle(), Math.min(60_000, settings.puppets.idleTimeoutMs));
      this.sweepTimer.unref();
    }
  }

  get size(): number {
    return this.puppets.size;
  }

  get(userId: string): Puppet | undefined {
    return this.puppets.get(userId);
  }

  all(): Puppet[] {
    return [...this.puppets.values()];
  }

  private fold(nick: string): string {
    return foldCase(nick, this.server.caseMapping());
  }

  /** The Matrix user behind a nick, if the nick is one of our puppets. */
  ownerOf(nick: string): string | undefined {
    return this.owners.get(this.fold(nick));
  }

  /** A puppet's nick changed as seen from outside (the bot saw the NICK). */
  noteRename(oldNick: string, newNick: string): void {
    const owner = this.owners.get(this.fold(oldNick));
    if (owner === undefined) return;
    this.owners.delete(this.fold(oldNick));
    this.owners.set(this.fold(newNick), owner);
  }

  wantedNick(userId: string, displayName: string | null, fixedNick: string | null): string {
    return fixedNick ?? nickFromTemplate(this.settings.puppets.nickTemplate, { userId, displayName }, this.nickLen());
  }

  nickLen(): number {
    return this.server.nickLen();
  }

  /** The user's puppet, created (not yet connected) if needed. Evicts the least recently active one when full. */
  async obtain(userId: string, displayName: string | null, fixedNick: string | null = null): Promise<Puppet> {
    const existing = this.puppets.get(userId);
    if (existing !== undefined) {
      existing.lastActive = this.clock.now();
      return existing;
    }
    if (this.puppets.size >= this.settings.puppets.maxConnections) await this.evictOne();
    const nick = this.wantedNick(userId, displayName, fixedNick);
    const settings = this.settings;
    let puppet: Puppet | undefined;
    const connection = new IrcConnection(
      {
        host: settings.host,
        port: settings.port,
        tls: settings.tls,
        localAddress: settings.puppets.localAddress,
        password: settings.password,
        nick,
        username: settings.puppets.username,
        realname: settings.puppets.realname.replace(/\$USERID/g, userId).replace(/[\r\n\0]/g, ''),
        linesPerSecond: settings.linesPerSecond,
        burst: settings.burst,
        reconnect: settings.reconnect,
        registrationTimeoutMs: settings.registrationTimeoutMs,
        echoMessage: settings.echoMessage,
      },
      this.pacer,
      this.logger.child({ user_id: userId }),
      {
        alternativeNick: (wanted, attempt, nickLen) => {
          const alt = alternativeNick(wanted, attempt, Math.min(nickLen, this.nickLen()));
          // Reserve it now so the bot never mistakes our puppet for a new IRC user.
          this.owners.set(this.fold(alt), userId);
          return alt;
        },
        onRegistered: (registeredNick) => {
          for (const [n, owner] of [...this.owners]) if (owner === userId && n !== this.fold(registeredNick)) this.owners.delete(n);
          this.owners.set(this.fold(registeredNick), userId);
          this.hooks.onNick?.(userId, null, registeredNick);
        },
        onFailed: (reason) => this.hooks.onFailed?.(userId, reason),
      },
      this.clock,
    );
    this.owners.set(this.fold(nick), userId);
    puppet = { userId, connection, lastActive: this.clock.now(), fixedNick };
    connection.client.on('nick', ({ nick: oldNick, new_nick }) => {
      // Emitted before irc-framework updates user.nick: ours when the old nick is ours.
      if (!connection.same(oldNick, connection.client.user.nick) || puppet === undefined) return;
      this.owners.delete(this.fold(oldNick));
      this.owners.set(this.fold(new_nick), userId);
      this.hooks.onNick?.(userId, oldNick, new_nick);
    });
    this.puppets.set(userId, puppet);
    this.hooks.onCreated?.(puppet);
    return puppet;
  }

  /** Disconnects and forgets a puppet (idle timeout, eviction, `!quit`, user left every bridged room). */
  async remove(userId: string, reason: string): Promise<void> {
    const puppet = this.puppets.get(userId);
    if (puppet === undefined) return;
    this.puppets.delete(userId);
    for (const [n, owner] of [...this.owners]) if (owner === userId) this.owners.delete(n);
    await puppet.connection.quit(reason);
    puppet.connection.client.removeAllListeners();
    this.hooks.onRemoved?.(userId, reason);
  }

  async stop(): Promise<void> {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    await Promise.all([...this.puppets.keys()].map((id) => this.remove(id, 'Bridge shutting down')));
  }

  private async evictOne(): Promise<void> {
    let oldest: Puppet | undefined;
    for (const p of this.puppets.values()) if (oldest === undefined || p.lastActive < oldest.lastActive) oldest = p;
    if (oldest === undefined) return;
    this.logger.info({ user_id: oldest.userId }, 'IRC connection limit reached; disconnecting the least recently active puppet');
    await this.remove(oldest.userId, 'Connection limit reached (idle)');
  }

  private async sweepIdle(): Promise<void> {
    const cutoff = this.clock.now() - this.settings.puppets.idleTimeoutMs;
    for (const p of [...this.puppets.values()]) {
      if (p.lastActive < cutoff && p.connection.queue.pendingCount === 0) await this.remove(p.userId, 'Idle timeout');
    }
  }
}
