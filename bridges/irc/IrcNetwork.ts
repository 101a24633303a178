// One IRC network as the bridge sees it: the bot connection that listens in every bridged channel, the
// roster and ghost identities it keeps, netsplit debouncing, and the pool of Matrix users' puppets.
// IRC happenings go to a sink (the Matrix side) one channel at a time, in the order IRC had them.
import type { Logger } from 'patchbay-matrix/plugin';
import { ChannelRoster } from './ChannelRoster.js';
import { ConnectPacer } from './ConnectPacer.js';
import { type AccountFact, GhostIdentities, type GhostIdentityStore } from './GhostIdentities.js';
import type { NetworkSettings } from './IrcConfig.js';
import { type ConnectionState, IrcConnection, type MessageKind } from './IrcConnection.js';
import type { ConnectionFailure } from './IrcConnectionFailure.js';
import { type CaseMapping, foldCase, parseCaseMapping } from './IrcCaseMapping.js';
import type { MessageEvent, UnknownCommandEvent, WhoisEvent } from './IrcFrameworkClient.js';
import { alternativeNick } from './PuppetNickPolicy.js';
import { type Puppet, PuppetPool } from './PuppetPool.js';
import { QuitDebouncer } from './QuitDebouncer.js';

/** An IRC user as the Matrix side needs them: the live nick and the ghost's remote id (`<network>_<key>`). */
export interface IrcPerson {
  nick: string;
  ghost: string;
}

export interface IrcNetworkSink {
  /** A channel message (channel set) or a PM to a puppet (`toUserId` set). */
  message(e: { network: string; channel: string | null; toUserId: string | null; from: IrcPerson; kind: MessageKind; text: string; time: number; msgid: string | null }): Promise<void>;
  joined(e: { network: string; channel: string; who: IrcPerson; time: number }): Promise<void>;
  /** part, quit (after debouncing) or kick. */
  left(e: { network: string; channel: string; who: IrcPerson; reason: string; kickedBy: IrcPerson | null; time: number }): Promise<void>;
  /** End of NAMES: the full member list (ghosts only; puppets and the bot excluded). */
  members(e: { network: string; channel: string; members: IrcPerson[] }): Promise<void>;
  nickChanged(e: { network: string; oldNick: string; who: IrcPerson }): Promise<void>;
  topic(e: { network: string; channel: string; topic: string; by: IrcPerson | null; time: number }): Promise<void>;
  /** A Matrix user's puppet was kicked from a channel. */
  puppetKicked(e: { network: string; channel: string; userId: string; by: IrcPerson | null; reason: string }): Promise<void>;
  /** The bridge bot lost a channel (kicked): IRC -> Matrix is interrupted until it rejoins. */
  botLostChannel(e: { network: string; channel: string; reason: string }): Promise<void>;
  /** A puppet's connection gave up (bad credentials, too many attempts). */
  puppetFailed(e: { network: string; userId: string; reason: string }): Promise<void>;
  /** A line a Matrix user's puppet sent came back with its msgid (echo-message): `ref` is what say() was given. */
  sent(e: { network: string; userId: string; target: string; ref: string; msgid: string }): Promise<void>;
  /** Someone on IRC redacted a message by msgid (IRCv3 message-redaction): in a channel, or a PM to a puppet. */
  redacted(e: { network: string; channel: string | null; toUserId: string | null; by: IrcPerson; msgid: string; reason: string }): Promise<void>;
}

/** Where the network's bot connection stands: what the bridge reports to operators. */
export interface BotStatus {
  network: string;
  state: ConnectionState;
  /** What made it drop or give up (null while nothing went wrong since it last registered). */
  problem: ConnectionFailure | null;
  /** Consecutive failed attempts. */
  attempts: number;
  nick: string;
}

const BOT_REJOIN_MS = 30_000;
/** After the bot's first registration, restored nick mappings nobody came back with are dropped after this. */
const SETTLE_RESTORED_MS = 120_000;

export class IrcNetwork {
  readonly bot: IrcConnection;
  readonly puppets: PuppetPool;
  readonly roster: ChannelRoster;
  readonly ghosts: GhostIdentities;
  private readonly pacer: ConnectPacer;
  private readonly debouncer: QuitDebouncer;
  /** Per-channel (and per-PM) ordered delivery to the sink. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly botChannels = new Map<string, { name: string; key?: string }>();
  private stopped = false;
  /** Channels whose member list the bot has not had since its first registration (null: settled). */
  private unsettled: Set<string> | null = null;
  private settleTimer: ReturnType<typeof setTimeout> | null = null;
  /** Told each state change of the bot's connection. */
  onBotStatus: ((status: BotStatus) => void) | null = null;

  constructor(
    readonly settings: NetworkSettings,
    private readonly sink: IrcNetworkSink,
    /** Carries the network already (`irc_network`): every line of its connections says which one. */
    private readonly logger: Logger,
    /** A puppet was disconnected and dropped from the pool (idle timeout, eviction, `!quit`). */
    private readonly onPuppetRemoved: (userId: string, reason: string) => void = () => undefined,
    /** Where ghost identities persist across restarts (none: they last as long as the process). */
    identityStore: GhostIdentityStore | null = null,
  ) {
    this.pacer = new ConnectPacer({ concurrency: settings.connectConcurrency, intervalMs: settings.connectIntervalMs });
    this.roster = new ChannelRoster('rfc1459');
    this.ghosts = new GhostIdentities('rfc1459', identityStore);
    this.bot = new IrcConnection(
      {
        host: settings.host,
        port: settings.port,
        tls: settings.tls,
        password: settings.password,
        sasl: settings.bot.sasl,
        nick: settings.bot.nick,
        username: settings.bot.username,
        realname: settings.bot.realname,
        linesPerSecond: settings.linesPerSecond,
        burst: settings.burst,
        reconnect: { ...settings.reconnect, maxAttempts: 0 },
        registrationTimeoutMs: settings.registrationTimeoutMs,
        echoMessage: settings.echoMessage,
      },
      this.pacer,
      logger.child({ irc_role: 'bot' }),
      {
        alternativeNick: (wanted, attempt, nickLen) => alternativeNick(wanted, attempt, Math.min(nickLen, 30)),
        onStateChange: (state, problem, attempts) => this.onBotStatus?.({ network: this.id, state, problem, attempts, nick: this.bot.nick }),
        onRegistered: () => {
          const mapping = parseCaseMapping(this.bot.client.network.options.CASEMAPPING);
          this.roster.setCaseMapping(mapping);
          this.ghosts.setCaseMapping(mapping);
          this.startSettling();
        },
        onDisconnected: () => {
          // Everything we knew about channels is stale; NAMES after the rejoin rebuilds it.
          this.roster.clear();
        },
      },
    );
    this.debouncer = new QuitDebouncer({
      ...settings.quitDebounce,
      onLeave: (nick, message) => this.finishQuit(nick, message),
    });
    this.puppets = new PuppetPool(
      settings,
      this.pacer,
      logger.child({ irc_role: 'puppet' }),
      { caseMapping: () => this.caseMapping, nickLen: () => this.nickLen },
      {
        onCreated: (puppet) => this.bindPuppet(puppet),
        onRemoved: (userId, reason) => this.onPuppetRemoved(userId, reason),
        onFailed: (userId, reason) => this.run(`puppet:${userId}`, () => this.sink.puppetFailed({ network: this.id, userId, reason })),
      },
    );
    this.bindBot();
  }

  get id(): string {
    return this.settings.id;
  }

  /** The network's connect pacer: every (re)connect of the bot and the puppets takes a slot of it. */
  get connectPacer(): ConnectPacer {
    return this.pacer;
  }

  get caseMapping(): CaseMapping {
    return parseCaseMapping(this.bot.client.network.options.CASEMAPPING);
  }

  get nickLen(): number {
    const n = Number(this.bot.client.network.options.NICKLEN);
    return Number.isInteger(n) && n >= 9 ? n : 9;
  }

  fold(text: string): string {
    return foldCase(text, this.caseMapping);
  }

  /** Ghost remote id for a nick (`<network>_<key>`), following the person through nick changes. */
  ghostFor(nick: string): string {
    return `${this.id}_${this.ghosts.keyFor(nick)}`;
  }

  /**
   * The IRC person behind a nick, told what the server said of their account. When that fact moves an
   * already-known nick to another ghost (the account's own, or away from an account that is not theirs),
   * the old ghost leaves and the new one joins the nick's channels first.
   */
  person(nick: string, account?: AccountFact): IrcPerson {
    const { key, previous } = this.ghosts.identify(nick, account);
    const who = { nick, ghost: `${this.id}_${key}` };
    if (previous !== undefined) {
      const was = { nick, ghost: `${this.id}_${previous}` };
      for (const channel of this.roster.channelsOf(nick)) {
        this.run(channel, async () => {
          await this.sink.left({ network: this.id, channel, who: was, reason: 'Identified as another IRC account', kickedBy: null, time: Date.now() });
          await this.sink.joined({ network: this.id, channel, who, time: Date.now() });
        });
      }
    }
    return who;
  }

  /** An account as a message's account-tag tells it: absent means "not logged in" only where the tag is on. */
  private accountOfMessage(e: MessageEvent, connection: IrcConnection): AccountFact {
    if (typeof e.account === 'string' && e.account !== '') return e.account;
    return connection.client.network.cap.isEnabled('account-tag') ? null : undefined;
  }

  private startSettling(): void {
    if (this.unsettled !== null || this.settleTimer !== null) return;
    this.unsettled = new Set(this.botChannels.keys());
    this.settleTimer = setTimeout(() => this.settle(), SETTLE_RESTORED_MS);
    this.settleTimer.unref();
  }

  private settle(): void {
    if (this.settleTimer !== null) clearTimeout(this.settleTimer);
    this.ghosts.settle();
    this.unsettled = new Set();
  }

  /** The live nick behind a ghost remote id, or the nick it was named after if that person is not in sight. */
  nickForGhost(remoteId: string): string | null {
    if (!remoteId.startsWith(`${this.id}_`)) return null;
    const key = remoteId.slice(this.id.length + 1);
    return this.ghosts.nickHolding(key) !== undefined ? this.liveNick(key) : key.replace(/\.\d+$/, '');
  }

  private liveNick(key: string): string {
    const folded = this.ghosts.nickHolding(key) as string;
    for (const channel of this.roster.channelsOf(folded)) {
      const found = this.roster.members(channel).find((n) => this.fold(n) === folded);
      if (found !== undefined) return found;
    }
    return folded;
  }

  async start(): Promise<void> {
    await this.bot.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.settleTimer !== null) clearTimeout(this.settleTimer);
    this.debouncer.clear();
    await this.puppets.stop();
    await this.bot.quit('Bridge shutting down', 2000);
    this.bot.client.removeAllListeners();
    await Promise.all([...this.chains.values()]);
  }

  /** The bot joins (and keeps rejoining) a bridged channel. */
  async addChannel(channel: string, key?: string): Promise<void> {
    this.botChannels.set(this.fold(channel), { name: channel, key });
    await this.bot.join(channel, key);
  }

  removeChannel(channel: string): void {
    this.botChannels.delete(this.fold(channel));
    this.bot.part(channel, 'Unbridged');
    this.roster.dropChannel(channel);
  }

  hasChannel(channel: string): boolean {
    return this.botChannels.has(this.fold(channel));
  }

  /** A Matrix user's connected puppet (connecting it first), joined to `channel` when given. */
  async puppetFor(userId: string, displayName: string | null, fixedNick: string | null, channel?: string): Promise<Puppet> {
    const puppet = await this.puppets.obtain(userId, displayName, fixedNick);
    await puppet.connection.connect();
    if (channel !== undefined && !puppet.connection.isJoined(channel)) {
      const key = this.botChannels.get(this.fold(channel))?.key;
      await puppet.connection.join(channel, key);
    }
    return puppet;
  }

  /** Says something as the Matrix user (to a channel, or to a nick for a PM). */
  async sendAs(userId: string, displayName: string | null, fixedNick: string | null, target: string, text: string, kind: MessageKind): Promise<void> {
    const isChannel = this.isChannelName(target);
    const puppet = await this.puppetFor(userId, displayName, fixedNick, isChannel ? target : undefined);
    puppet.lastActive = Date.now();
    await puppet.connection.say(target, text, kind);
  }

  isChannelName(target: string): boolean {
    const types = this.bot.client.network.options.CHANTYPES;
    const chantypes = Array.isArray(types) ? types.join('') : '#&+!';
    return chantypes.includes(target[0] ?? '');
  }

  whois(nick: string): Promise<WhoisEvent> {
    return this.bot.whois(nick);
  }

  /** Runs sink calls of one channel/PM in order; a failing call is logged and does not block the next. */
  private run(key: string, task: () => Promise<void>): void {
    if (this.stopped) return;
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(task).catch((err: unknown) => {
      this.logger.error({ err, key }, 'IRC->Matrix delivery failed');
    });
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  /** Nicks that are not IRC people to mirror: our bot and our puppets. */
  private isOurs(nick: string): boolean {
    return this.bot.same(nick, this.bot.nick) || this.puppets.ownerOf(nick) !== undefined;
  }

  private onChannelMessage(e: MessageEvent, kind: MessageKind): void {
    if (e.from_server || e.nick === undefined || e.nick === '') return;
    if (!this.isChannelName(e.target)) {
      // A PM to the bot: nobody reads it; tell the sender so it is not silent.
      if (this.bot.same(e.target, this.bot.nick) && !this.isOurs(e.nick) && kind === 'privmsg') {
        void this.bot.say(e.nick, 'I am a Matrix bridge bot; nobody reads messages sent to me.', 'notice').catch(() => undefined);
      }
      return;
    }
    if (this.isOurs(e.nick)) return;
    const channel = e.target;
    const from = this.person(e.nick, this.accountOfMessage(e, this.bot));
    const time = e.time ?? Date.now();
    const msgid = e.tags?.msgid ?? null;
    this.run(this.fold(channel), () => this.sink.message({ network: this.id, channel, toUserId: null, from, kind, text: e.message, time, msgid }));
  }

  private bindBot(): void {
    const c = this.bot.client;
    c.on('privmsg', (e) => this.onChannelMessage(e, 'privmsg'));
    c.on('action', (e) => this.onChannelMessage(e, 'action'));
    c.on('notice', (e) => this.onChannelMessage(e, 'notice'));
    c.on('userlist', ({ channel, users }) => {
      const nicks = users.map((u) => u.nick).filter((n) => n !== undefined && n !== '');
      this.roster.setMembers(channel, nicks);
      const members = nicks.filter((n) => !this.isOurs(n)).map((n) => this.person(n));
      // Every channel's members seen once since the restart: restored nicks still unseen are stale.
      if (this.unsettled !== null && this.unsettled.size > 0 && this.unsettled.delete(this.fold(channel)) && this.unsettled.size === 0) this.settle();
      if (!this.settings.syncNames) return;
      this.run(this.fold(channel), () => this.sink.members({ network: this.id, channel, members }));
    });
    c.on('join', ({ nick, channel, time, account }) => {
      this.roster.add(channel, nick);
      if (this.isOurs(nick)) return;
      const key = this.fold(nick);
      // extended-join: the account, or false for none.
      const fact: AccountFact = typeof account === 'string' ? account : account === false ? null : undefined;
      // Back from a netsplit before the debounced quit fired: they never left Matrix.
      if (this.debouncer.returned(key)) {
        this.person(nick, fact);
        return;
      }
      const who = this.person(nick, fact);
      this.run(this.fold(channel), () => this.sink.joined({ network: this.id, channel, who, time: time ?? Date.now() }));
    });
    c.on('part', ({ nick, channel, message, time }) => {
      if (this.bot.same(nick, this.bot.nick)) {
        this.roster.dropChannel(channel);
        return;
      }
      this.roster.remove(channel, nick);
      if (this.isOurs(nick)) return;
      const who = this.person(nick);
      if (this.roster.channelsOf(nick).length === 0) this.ghosts.forget(nick);
      this.run(this.fold(channel), () => this.sink.left({ network: this.id, channel, who, reason: message, kickedBy: null, time: time ?? Date.now() }));
    });
    c.on('kick', ({ kicked, nick, channel, message, time }) => {
      const by = nick !== undefined && nick !== '' && !this.isOurs(nick) ? this.person(nick) : null;
      if (this.bot.same(kicked, this.bot.nick)) {
        this.roster.dropChannel(channel);
        this.run(this.fold(channel), () => this.sink.botLostChannel({ network: this.id, channel, reason: `kicked by ${nick}: ${message}` }));
        // Rejoin later (the bot is needed for IRC -> Matrix); the channel stays wanted.
        const wanted = this.botChannels.get(this.fold(channel));
        if (wanted !== undefined) {
          const t = setTimeout(() => {
            if (!this.stopped && this.botChannels.has(this.fold(channel))) void this.bot.join(wanted.name, wanted.key).catch(() => undefined);
          }, BOT_REJOIN_MS);
          t.unref();
        }
        return;
      }
      this.roster.remove(channel, kicked);
      const owner = this.puppets.ownerOf(kicked);
      if (owner !== undefined) {
        this.run(this.fold(channel), () => this.sink.puppetKicked({ network: this.id, channel, userId: owner, by, reason: message }));
        return;
      }
      const who = this.person(kicked);
      if (this.roster.channelsOf(kicked).length === 0) this.ghosts.forget(kicked);
      this.run(this.fold(channel), () => this.sink.left({ network: this.id, channel, who, reason: message, kickedBy: by, time: time ?? Date.now() }));
    });
    c.on('quit', ({ nick, message }) => {
      if (this.isOurs(nick)) {
        this.roster.removeEverywhere(nick);
        return;
      }
      this.debouncer.quit(this.fold(nick), nick, message);
    });
    c.on('nick', ({ nick, new_nick }) => {
      const channels = this.roster.rename(nick, new_nick);
      if (this.puppets.ownerOf(nick) !== undefined) {
        this.puppets.noteRename(nick, new_nick);
        return;
      }
      if (this.bot.same(nick, this.bot.client.user.nick)) return;
      const ghostKey = this.ghosts.rename(nick, new_nick);
      const who: IrcPerson = { nick: new_nick, ghost: `${this.id}_${ghostKey}` };
      if (channels.length === 0) return;
      this.run(`nick:${who.ghost}`, () => this.sink.nickChanged({ network: this.id, oldNick: nick, who }));
    });
    c.on('topic', ({ channel, topic, nick, time }) => {
      const by = nick !== undefined && nick !== '' && !this.isOurs(nick) ? this.person(nick) : null;
      // Our own puppet's TOPIC came from Matrix: do not echo it back.
      if (nick !== undefined && nick !== '' && this.isOurs(nick)) return;
      this.run(this.fold(channel), () => this.sink.topic({ network: this.id, channel, topic, by, time: time ?? Date.now() }));
    });
    c.on('account', ({ nick, account }) => {
      // account-notify: someone logged in or out of services.
      if (nick === undefined || nick === '' || this.isOurs(nick) || this.ghosts.peek(nick) === undefined) return;
      this.person(nick, account === false ? null : account);
    });
    c.on('unknown command', (e) => {
      const redaction = this.redactionOf(e);
      // Our puppets' own REDACTs came from Matrix, where the event is already redacted.
      if (redaction === null || !this.isChannelName(redaction.target) || this.isOurs(redaction.nick)) return;
      const by = this.person(redaction.nick);
      this.run(this.fold(redaction.target), () =>
        this.sink.redacted({ network: this.id, channel: redaction.target, toUserId: null, by, msgid: redaction.msgid, reason: redaction.reason }),
      );
    });
  }

  /** `:nick REDACT <target> <msgid> [:reason]` from a user, or null for anything else. */
  private redactionOf(e: UnknownCommandEvent): { nick: string; target: string; msgid: string; reason: string } | null {
    if (e.command.toUpperCase() !== 'REDACT' || e.nick === undefined || e.nick === '') return null;
    const [target, msgid, reason] = e.params;
    if (target === undefined || msgid === undefined || target === '' || msgid === '') return null;
    return { nick: e.nick, target, msgid, reason: reason ?? '' };
  }

  /** A quit that survived debouncing: the person leaves every channel they were in. */
  private finishQuit(nick: string, message: string): void {
    const channels = this.roster.removeEverywhere(nick);
    const who = this.person(nick);
    this.ghosts.forget(nick);
    for (const channel of channels) {
      this.run(channel, () => this.sink.left({ network: this.id, channel, who, reason: message === '' ? 'Quit' : `Quit: ${message}`, kickedBy: null, time: Date.now() }));
    }
  }

  private bindPuppet(puppet: Puppet): void {
    const c = puppet.connection.client;
    const onPrivate = (e: MessageEvent, kind: MessageKind): void => {
      if (e.from_server || e.nick === undefined || e.nick === '') return;
      // Channel traffic is relayed by the bot; echoes of our own lines and other puppets are not people.
      if (this.isChannelName(e.target) || this.isOurs(e.nick)) return;
      const from = this.person(e.nick, this.accountOfMessage(e, puppet.connection));
      const time = e.time ?? Date.now();
      this.run(`pm:${puppet.userId}:${from.ghost}`, () =>
        this.sink.message({ network: this.id, channel: null, toUserId: puppet.userId, from, kind, text: e.message, time, msgid: e.tags?.msgid ?? null }),
      );
    };
    c.on('privmsg', (e) => onPrivate(e, 'privmsg'));
    c.on('action', (e) => onPrivate(e, 'action'));
    c.on('notice', (e) => onPrivate(e, 'notice'));
    c.on('unknown command', (e) => {
      const redaction = this.redactionOf(e);
      // Channel redactions reach the bot; here only PMs to this puppet.
      if (redaction === null || this.isChannelName(redaction.target) || this.isOurs(redaction.nick)) return;
      const by = this.person(redaction.nick);
      this.run(`pm:${puppet.userId}:${by.ghost}`, () =>
        this.sink.redacted({ network: this.id, channel: null, toUserId: puppet.userId, by, msgid: redaction.msgid, reason: redaction.reason }),
      );
    });
    puppet.connection.echoListener = ({ ref, target, msgid }) => {
      const key = this.isChannelName(target) ? this.fold(target) : `pm:${puppet.userId}:${this.ghostFor(target)}`;
      this.run(key, () => this.sink.sent({ network: this.id, userId: puppet.userId, target, ref, msgid }));
    };
  }
}
