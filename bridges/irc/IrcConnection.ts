// One IRC connection (the bridge's bot, or one Matrix user's puppet): registration with nick fallback,
// SASL/PASS, paced (re)connects with exponential backoff and jitter, rejoin of its channels, and every
// outgoing line through its FloodControlQueue, so messages wait across outages instead of vanishing.
import type { Logger } from 'patchbay-matrix/plugin';
import type { Clock } from './Clock.js';
import { systemClock } from './Clock.js';
import { AwaitedEchoes } from './AwaitedEchoes.js';
import { JOIN_ERRORS, JoinError } from './JoinError.js';
import type { ConnectPacer } from './ConnectPacer.js';
import { DeliveryError, FloodControlQueue } from './FloodControlQueue.js';
import { type CaseMapping, foldCase, parseCaseMapping } from './IrcCaseMapping.js';
import { type ConnectionFailure, socketFailure } from './IrcConnectionFailure.js';
import { createIrcClient, type IrcClient, type MessageEvent, type WhoisEvent } from './IrcFrameworkClient.js';
import { ircClientOptions } from './IrcClientOptions.js';
import { splitIrcText, textByteBudget } from './IrcMessageSplitter.js';
import type { TransportTlsOptions } from './IrcSocketTransport.js';
import { isSafeIrcToken, sanitizeOutgoingText } from './IrcTextSanitizer.js';
import { alternativeNick } from './PuppetNickPolicy.js';

export interface ReconnectPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  /** Consecutive failed attempts before giving up; 0 retries forever. */
  maxAttempts: number;
}

export interface IrcConnectionConfig {
  host: string;
  port: number;
  tls?: TransportTlsOptions | false;
  localAddress?: string;
  password?: string;
  sasl?: { account: string; password: string };
  nick: string;
  username: string;
  realname: string;
  linesPerSecond: number;
  burst: number;
  reconnect: ReconnectPolicy;
  registrationTimeoutMs: number;
  /** Ask for IRCv3 echo-message when the server offers it. */
  echoMessage: boolean;
}

export type ConnectionState = 'idle' | 'connecting' | 'registered' | 'backoff' | 'stopped' | 'failed';
export type MessageKind = 'privmsg' | 'notice' | 'action';

export interface IrcConnectionHooks {
  /** The n-th (n >= 1) nick to try when the wanted one is in use or invalid, at most `nickLen` long. */
  alternativeNick?: (wanted: string, attempt: number, nickLen: number) => string;
  /**
   * Every change of state, with what made the connection drop or give up (null when nothing went wrong)
   * and the consecutive failed attempts so far.
   */
  onStateChange?: (state: ConnectionState, problem: ConnectionFailure | null, attempts: number) => void;
  onRegistered?: (nick: string) => void;
  onDisconnected?: (reason: string) => void;
  /** Gave up (SASL failure, too many attempts): every queued message was failed. */
  onFailed?: (reason: string) => void;
}

/** The server echoed a line we sent (IRCv3 echo-message) with its message id. */
export interface EchoEvent {
  /** What the caller passed to say() (a Matrix event id). */
  ref: string;
  target: string;
  msgid: string;
}

/** IRCv3 message redaction; the draft name is what servers (Ergo) offer today. */
const REDACTION_CAPS = ['draft/message-redaction', 'message-redaction'];
/** RFC 1459's NICKLEN, which every server accepts (ngircd's default); a nick refused as too long is cut to it. */
const MIN_NICKLEN = 9;

let connectionCounter = 0;
const REPLY_TIMEOUT_MS = 20_000;

export class IrcConnection {
  readonly client: IrcClient;
  readonly queue: FloodControlQueue;
  private stateValue: ConnectionState = 'idle';
  private readonly wanted = new Map<string, { name: string; key?: string }>();
  private readonly joined = new Set<string>();
  private readonly joinWaiters = new Map<string, Array<{ resolve: () => void; reject: (e: Error) => void }>>();
  private readonly whoisWaiters = new Map<string, Array<(w: WhoisEvent) => void>>();
  private nickChangeWaiter: { nick: string; resolve: (nick: string) => void; reject: (e: Error) => void } | null = null;
  private attempts = 0;
  private nickAttempt = 0;
  private wantedNick: string;
  private releaseSlot: (() => void) | null = null;
  private timer: unknown = null;
  private regTimer: unknown = null;
  private registeredWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private failure: string | null = null;
  /** Why the current attempt is ending (set by the server's refusals and timeouts before the socket closes). */
  private cause: ConnectionFailure | null = null;
  private problem: ConnectionFailure | null = null;
  /** The longest nick the server takes, once known (ISUPPORT NICKLEN, or a nick refused as too long). */
  private nickLimit = Number.POSITIVE_INFINITY;
  private alternative = 0;
  private mask: { user?: string; host?: string } = {};
  private readonly clock: Clock;
  private readonly echoes = new AwaitedEchoes();
  /** Told when one of our lines comes back with a msgid (echo-message); the bridge maps it for redactions. */
  echoListener: ((e: EchoEvent) => void) | null = null;
  readonly id = ++connectionCounter;

  constructor(
    private readonly config: IrcConnectionConfig,
    private readonly pacer: ConnectPacer,
    private readonly logger: Logger,
    private readonly hooks: IrcConnectionHooks = {},
    clock?: Clock,
  ) {
    this.clock = clock ?? systemClock;
    this.wantedNick = config.nick;
    this.client = createIrcClient();
    this.client.requestCap(REDACTION_CAPS);
    this.queue = new FloodControlQueue({
      linesPerSecond: config.linesPerSecond,
      burst: config.burst,
      clock: this.clock,
      write: (line) => this.writeLine(line),
    });
    this.bindClient();
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  get nick(): string {
    return this.client.user.nick !== '' ? this.client.user.nick : this.wantedNick;
  }

  get caseMapping(): CaseMapping {
    return parseCaseMapping(this.client.network.options.CASEMAPPING);
  }

  get lastFailure(): string | null {
    return this.failure;
  }

  /** What made the connection drop or give up last (null while nothing went wrong since it registered). */
  get lastProblem(): ConnectionFailure | null {
    return this.problem;
  }

  fold(text: string): string {
    return foldCase(text, this.caseMapping);
  }

  same(a: string, b: string): boolean {
    return this.fold(a) === this.fold(b);
  }

  isJoined(channel: string): boolean {
    return this.joined.has(this.fold(channel));
  }

  /** Channels this connection keeps itself in (rejoined after every reconnect). */
  get channels(): string[] {
    return [...this.wanted.values()].map((c) => c.name);
  }

  /** Starts connecting if idle/stopped; resolves once registered (rejects if the connection gives up). */
  connect(): Promise<void> {
    if (this.stateValue === 'registered') return Promise.resolve();
    const waiter = new Promise<void>((resolve, reject) => this.registeredWaiters.push({ resolve, reject }));
    if (this.stateValue === 'idle' || this.stateValue === 'stopped' || this.stateValue === 'failed') {
      this.failure = null;
      this.attempts = 0;
      void this.attempt();
    }
    return waiter;
  }

  /** Whether the server lets us redact messages (IRCv3 message-redaction negotiated). */
  get canRedact(): boolean {
    return this.stateValue === 'registered' && REDACTION_CAPS.some((cap) => this.client.network.cap.isEnabled(cap));
  }

  /**
   * Asks the server to redact one of our messages by its msgid (`REDACT <target> <msgid> [:reason]`).
   * False, with nothing sent, where the server cannot (no capability, not connected, odd input).
   */
  redact(target: string, msgid: string, reason?: string): boolean {
    if (!this.canRedact || !isSafeIrcToken(target) || !isSafeIrcToken(msgid)) return false;
    const why = reason !== undefined ? sanitizeOutgoingText(reason).replace(/\n+/g, ' ').slice(0, 300).trim() : '';
    this.queue.sendRaw(why !== '' ? `REDACT ${target} ${msgid} :${why}` : `REDACT ${target} ${msgid}`);
    return true;
  }

  /**
   * Sends text (any length, any line breaks) as one message; resolves when the server has read it all.
   * With `ref`, the server's echo of each line (echo-message + msgid) is reported to `echoListener`.
   */
  say(target: string, text: string, kind: MessageKind = 'privmsg', ref?: string): Promise<void> {
    if (!isSafeIrcToken(target)) return Promise.reject(new DeliveryError(`invalid IRC target ${JSON.stringify(target)}`, 'rejected'));
    if (this.stateValue === 'failed') return Promise.reject(new DeliveryError(this.failure ?? 'connection failed', 'aborted'));
    const command = kind === 'notice' ? 'NOTICE' : 'PRIVMSG';
    const budget = textByteBudget({ nick: this.nick, user: this.mask.user, host: this.mask.host, command, target, action: kind === 'action' });
    const parts = splitIrcText(sanitizeOutgoingText(text, true), budget);
    const lines = parts.map((l) => (kind === 'action' ? `PRIVMSG ${target} :\x01ACTION ${l}\x01` : `${command} ${target} :${l}`));
    if (lines.length === 0) return Promise.resolve();
    if (ref !== undefined) this.echoes.expect(this.fold(target), kind, parts, ref);
    return this.queue.send(lines, { target, resend: true });
  }

  /** Joins (and keeps rejoining) a channel; resolves when the server confirms the JOIN. */
  join(channel: string, key?: string): Promise<void> {
    if (!isSafeIrcToken(channel) || (key !== undefined && !isSafeIrcToken(key))) return Promise.reject(new JoinError(channel, 'invalid channel name'));
    const folded = this.fold(channel);
    this.wanted.set(folded, { name: channel, key });
    if (this.joined.has(folded)) return Promise.resolve();
    const waiter = new Promise<void>((resolve, reject) => {
      const list = this.joinWaiters.get(folded) ?? [];
      list.push({ resolve, reject });
      this.joinWaiters.set(folded, list);
    });
    if (this.stateValue === 'registered') this.queue.sendRaw(key !== undefined ? `JOIN ${channel} ${key}` : `JOIN ${channel}`);
    else void this.connect().catch(() => undefined);
    return waiter;
  }

  part(channel: string, message = ''): void {
    const folded = this.fold(channel);
    this.wanted.delete(folded);
    if (!isSafeIrcToken(channel)) return;
    if (this.joined.has(folded) && this.stateValue === 'registered') {
      const reason = sanitizeOutgoingText(message).replace(/\n/g, ' ').slice(0, 300);
      this.queue.sendRaw(reason !== '' ? `PART ${channel} :${reason}` : `PART ${channel}`);
    }
  }

  /** Forgets a channel without sending PART (we were kicked, or the server removed us). */
  forgetChannel(channel: string): void {
    const folded = this.fold(channel);
    this.wanted.delete(folded);
    this.joined.delete(folded);
  }

  setTopic(channel: string, topic: string): Promise<void> {
    const text = sanitizeOutgoingText(topic).replace(/\n+/g, ' ').slice(0, 400);
    return this.queue.send([`TOPIC ${channel} :${text}`], { target: channel, resend: true });
  }

  /** NICK change after registration; resolves with the nick the server gave us. */
  changeNick(nick: string): Promise<string> {
    if (!isSafeIrcToken(nick)) return Promise.reject(new Error(`invalid nick ${JSON.stringify(nick)}`));
    this.wantedNick = nick;
    if (this.stateValue !== 'registered') return Promise.resolve(nick);
    if (this.same(nick, this.nick)) {
      if (nick !== this.nick) this.queue.sendRaw(`NICK ${nick}`);
      return Promise.resolve(nick);
    }
    this.nickChangeWaiter?.reject(new Error('superseded by another nick change'));
    const change = new Promise<string>((resolve, reject) => {
      this.nickChangeWaiter = { nick, resolve, reject };
      this.queue.sendRaw(`NICK ${nick}`);
    });
    return this.withTimeout(change, `the server did not answer the nick change to ${nick}`, () => {
      if (this.nickChangeWaiter?.nick === nick) this.nickChangeWaiter = null;
    });
  }

  /** Replies that never come (a server ignoring a command) must not leave a caller waiting forever. */
  private withTimeout<T>(promise: Promise<T>, message: string, onTimeout: () => void, ms = REPLY_TIMEOUT_MS): Promise<T> {
    let timer: unknown;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.clock.setTimeout(() => {
        onTimeout();
        reject(new Error(message));
      }, ms);
    });
    return Promise.race([promise, timeout]).finally(() => this.clock.clearTimeout(timer));
  }

  whois(nick: string): Promise<WhoisEvent> {
    if (!isSafeIrcToken(nick)) return Promise.reject(new Error('invalid nick'));
    const key = this.fold(nick);
    let waiter!: (w: WhoisEvent) => void;
    const answer = new Promise<WhoisEvent>((resolve) => {
      waiter = resolve;
      const list = this.whoisWaiters.get(key) ?? [];
      list.push(resolve);
      this.whoisWaiters.set(key, list);
      this.queue.sendRaw(`WHOIS ${nick}`);
      void this.connect().catch(() => undefined);
    });
    return this.withTimeout(answer, `no WHOIS answer for ${nick}`, () => {
      const list = (this.whoisWaiters.get(key) ?? []).filter((w) => w !== waiter);
      if (list.length > 0) this.whoisWaiters.set(key, list);
      else this.whoisWaiters.delete(key);
    });
  }

  /** Sends one raw command (the caller validated its parameters); used for MODE/KICK/INVITE. */
  command(line: string): void {
    this.queue.sendRaw(line);
  }

  /**
   * Leaves the network. Waits (up to `flushMs`) for queued messages first so a clean quit loses nothing;
   * whatever is still queued after that is failed visibly by the caller's delivery promises.
   */
  async quit(message = 'Leaving', flushMs = 5000): Promise<void> {
    if (this.stateValue === 'registered' && (this.queue.pendingCount > 0 || this.queue.inflightCount > 0)) {
      let t: unknown;
      await Promise.race([this.queue.idle(), new Promise<void>((r) => (t = this.clock.setTimeout(r, flushMs)))]);
      this.clock.clearTimeout(t);
    }
    const wasRegistered = this.stateValue === 'registered';
    this.setState('stopped');
    this.clearTimers();
    this.queue.setConnected(false);
    this.queue.failAll(`disconnected from IRC (${message})`);
    this.releasePacer();
    if (wasRegistered && this.client.connected) {
      const text = sanitizeOutgoingText(message).replace(/\n/g, ' ').slice(0, 200);
      this.client.quit(text);
    } else {
      this.client.connection.end();
    }
    this.joined.clear();
    this.rejectRegistered(new Error('connection stopped'));
  }

  /** Drops the socket and reconnects at once (the admin command `!reconnect`). */
  reconnectNow(): void {
    if (this.stateValue === 'registered' || this.stateValue === 'connecting') {
      this.client.connection.end(undefined, true);
      return;
    }
    this.clearTimers();
    this.setState('idle');
    this.attempts = 0;
    void this.attempt();
  }

  // ---- internals ------------------------------------------------------------------------------------

  private writeLine(line: string): void {
    if (/[\r\n\0]/.test(line)) throw new Error('refusing to write a line with CR, LF or NUL');
    if (this.client.connected) this.client.raw(line);
  }

  private async attempt(): Promise<void> {
    if (this.stateValue === 'connecting' || this.stateValue === 'registered') return;
    this.setState('connecting');
    const release = await this.pacer.acquire();
    // Read through the getter: a quit() while waiting for the slot changed the state.
    if (this.state !== 'connecting') {
      release();
      return;
    }
    this.releaseSlot = release;
    this.nickAttempt = 0;
    this.alternative = 0;
    this.cause = null;
    this.mask = {};
    this.regTimer = this.clock.setTimeout(() => {
      this.regTimer = null;
      const seconds = Math.round(this.config.registrationTimeoutMs / 1000);
      this.cause = { kind: 'timeout', text: `${this.server} did not complete IRC registration within ${seconds} s` };
      this.client.connection.end(undefined, true);
    }, this.config.registrationTimeoutMs);
    try {
      this.client.connect(ircClientOptions(this.config, this.wantedNick));
    } catch (err) {
      this.onClose(err);
    }
  }

  private releasePacer(): void {
    const release = this.releaseSlot;
    this.releaseSlot = null;
    release?.();
  }

  private clearTimers(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    if (this.regTimer !== null) this.clock.clearTimeout(this.regTimer);
    this.timer = null;
    this.regTimer = null;
  }

  private rejectRegistered(error: Error): void {
    const waiters = this.registeredWaiters;
    this.registeredWaiters = [];
    for (const w of waiters) w.reject(error);
  }

  private get server(): string {
    return `${this.config.host}:${this.config.port}`;
  }

  /** Every state change goes through here, so the hook sees each one once. */
  private setState(state: ConnectionState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.hooks.onStateChange?.(state, this.problem, this.attempts);
  }

  private fail(problem: ConnectionFailure): void {
    const reason = problem.text;
    this.failure = reason;
    this.problem = problem;
    this.setState('failed');
    this.clearTimers();
    this.releasePacer();
    this.queue.setConnected(false);
    this.queue.failAll(reason);
    for (const [, waiters] of this.joinWaiters) for (const w of waiters) w.reject(new JoinError('channel', reason));
    this.joinWaiters.clear();
    this.rejectRegistered(new Error(reason));
    this.logger.warn({ server: this.server, nick: this.wantedNick, reason }, `IRC connection gave up: ${reason}`);
    this.hooks.onFailed?.(reason);
    this.client.connection.end(undefined, true);
  }

  private onClose(err: unknown): void {
    const was = this.stateValue;
    const problem = this.cause ?? socketFailure(err, this.config.host, this.config.port);
    this.cause = null;
    const reason = problem.text;
    this.clearTimers();
    this.releasePacer();
    this.queue.setConnected(false);
    this.joined.clear();
    if (this.nickChangeWaiter !== null) {
      // The NICK will be resent on the next registration (wantedNick).
      this.nickChangeWaiter.resolve(this.wantedNick);
      this.nickChangeWaiter = null;
    }
    if (was === 'stopped' || was === 'failed') return;
    this.problem = problem;
    this.hooks.onDisconnected?.(reason);
    this.attempts++;
    const { initialDelayMs, maxDelayMs, maxAttempts } = this.config.reconnect;
    if (maxAttempts > 0 && this.attempts >= maxAttempts) {
      this.fail({ kind: problem.kind, text: `could not connect to ${this.server} after ${this.attempts} attempts (${reason})` });
      return;
    }
    const base = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(this.attempts - 1, 20));
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    const what = was === 'registered' ? 'IRC connection lost' : 'IRC connection failed';
    this.logger.warn({ server: this.server, nick: this.wantedNick, reason, delay_ms: delay, attempt: this.attempts }, `${what}: ${reason}; reconnecting`);
    this.setState('backoff');
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.setState('idle');
      void this.attempt();
    }, delay);
  }

  private onRegistered(nick: string): void {
    if (this.regTimer !== null) this.clock.clearTimeout(this.regTimer);
    this.regTimer = null;
    this.releasePacer();
    const limit = Number(this.client.network.options.NICKLEN);
    if (Number.isInteger(limit) && limit >= MIN_NICKLEN) this.nickLimit = limit;
    this.attempts = 0;
    this.problem = null;
    this.setState('registered');
    this.logger.debug({ host: this.config.host, nick }, 'IRC connection registered');
    // Rejoin first: messages waiting in the queue (or resent) are mostly for these channels.
    const joins = [...this.wanted.values()].map((c) => (c.key !== undefined ? `JOIN ${c.name} ${c.key}` : `JOIN ${c.name}`));
    for (const line of joins.reverse()) this.queue.sendRaw(line, { front: true });
    if (!this.same(nick, this.wantedNick) && this.nickAttempt === 0) this.queue.sendRaw(`NICK ${this.wantedNick}`, { front: true });
    this.queue.setConnected(true);
    const waiters = this.registeredWaiters;
    this.registeredWaiters = [];
    for (const w of waiters) w.resolve();
    this.hooks.onRegistered?.(nick);
  }

  private bindClient(): void {
    const c = this.client;
    c.on('registered', ({ nick }) => this.onRegistered(nick));
    c.on('socket close', (err) => this.onClose(err));
    c.on('raw', ({ line, from_server }) => {
      if (!from_server) return;
      // 001 ends with our full mask on most servers; its length is part of every relayed line.
      const m = /^(?:@\S+ )?:\S+ 001 \S+ :.*?(\S+)!(\S+)@(\S+)\s*$/.exec(line);
      if (m !== null) this.mask = { user: m[2], host: m[3] };
      const host = /^(?:@\S+ )?:\S+ 396 \S+ (\S+)/.exec(line);
      if (host !== null) this.mask = { ...this.mask, host: host[1] };
    });
    c.on('pong', ({ message }) => this.queue.onPong(message));
    c.on('privmsg', (e) => this.onOwnLine(e, 'privmsg'));
    c.on('action', (e) => this.onOwnLine(e, 'action'));
    c.on('notice', (e) => this.onOwnLine(e, 'notice'));
    c.on('nick in use', ({ nick }) => this.onNickRejected(nick, 'nick in use'));
    c.on('nick invalid', ({ nick }) => this.onNickRejected(nick, 'invalid nick'));
    c.on('sasl failed', ({ reason, message }) => {
      if (this.config.sasl !== undefined) this.fail({ kind: 'sasl', text: `SASL authentication failed: ${message ?? reason}` });
    });
    c.on('join', ({ nick, channel }) => {
      if (!this.same(nick, c.user.nick)) return;
      const folded = this.fold(channel);
      this.joined.add(folded);
      const waiters = this.joinWaiters.get(folded) ?? [];
      this.joinWaiters.delete(folded);
      for (const w of waiters) w.resolve();
    });
    c.on('part', ({ nick, channel }) => {
      if (this.same(nick, c.user.nick)) this.joined.delete(this.fold(channel));
    });
    c.on('kick', ({ kicked, channel }) => {
      if (this.same(kicked, c.user.nick)) this.forgetChannel(channel);
    });
    c.on('nick', ({ nick, new_nick }) => {
      // irc-framework emits this before it updates user.nick: the change is ours if the old nick is.
      if (!this.same(nick, c.user.nick)) return;
      this.wantedNick = new_nick;
      if (this.nickChangeWaiter !== null) {
        this.nickChangeWaiter.resolve(new_nick);
        this.nickChangeWaiter = null;
      }
    });
    c.on('irc error', (e) => this.onIrcError(e));
    c.on('unknown command', ({ command, params }) => {
      // 477 ERR_NEEDREGGEDNICK: the channel wants a registered (SASL) account.
      if (command === '477' && params[1] !== undefined) this.rejectJoin(params[1], params[params.length - 1] ?? 'registration required');
    });
    c.on('whois', (w) => {
      const key = this.fold(w.nick);
      const waiters = this.whoisWaiters.get(key) ?? [];
      this.whoisWaiters.delete(key);
      for (const resolve of waiters) resolve(w);
    });
  }

  /** An echo of a line we sent: matched to the oldest awaited line with the same target, kind and text. */
  private onOwnLine(e: MessageEvent, kind: MessageKind): void {
    const msgid = e.tags?.msgid;
    if (msgid === undefined || e.nick === undefined || !this.same(e.nick, this.client.user.nick)) return;
    const ref = this.echoes.match(this.fold(e.target), kind, e.message);
    if (ref !== undefined) this.echoListener?.({ ref, target: e.target, msgid });
  }

  private onNickRejected(nick: string, reason: string): void {
    if (this.stateValue === 'registered') {
      // Our NICK change was refused; keep the current nick.
      if (this.nickChangeWaiter !== null) {
        this.nickChangeWaiter.reject(new Error(`${reason}: ${nick}`));
        this.nickChangeWaiter = null;
      }
      this.wantedNick = this.nick;
      return;
    }
    this.nickAttempt++;
    if (this.nickAttempt > 50) {
      this.cause = { kind: 'nick', text: `${this.server} refused the nick ${this.wantedNick} and 50 alternatives (${reason})` };
      this.client.connection.end(undefined, true);
      return;
    }
    let next: string | null = null;
    if (reason === 'invalid nick' && nick.length > MIN_NICKLEN && this.nickLimit > MIN_NICKLEN) {
      // Too long for this server (NICKLEN is only announced after registration): cut it to the length every server takes.
      this.nickLimit = MIN_NICKLEN;
      const short = this.wantedNick.slice(0, MIN_NICKLEN);
      if (!this.same(short, nick)) next = short;
    }
    if (next === null) {
      this.alternative++;
      next = this.hooks.alternativeNick?.(this.wantedNick, this.alternative, this.nickLimit) ?? alternativeNick(this.wantedNick, this.alternative, this.nickLimit);
    }
    this.logger.info({ server: this.server, refused: nick, reason, next }, `the server refused the nick ${nick} (${reason}); trying ${next}`);
    this.client.user.nick = next;
    this.client.raw(`NICK ${next}`);
  }

  private rejectJoin(channel: string, reason: string): void {
    const folded = this.fold(channel);
    this.wanted.delete(folded);
    const waiters = this.joinWaiters.get(folded) ?? [];
    this.joinWaiters.delete(folded);
    for (const w of waiters) w.reject(new JoinError(channel, reason));
  }

  private onIrcError(e: { error: string; channel?: string; nick?: string; reason?: string }): void {
    const joinReason = JOIN_ERRORS[e.error];
    if (joinReason !== undefined && e.channel !== undefined) {
      this.rejectJoin(e.channel, e.reason !== undefined ? `${joinReason} (${e.reason})` : joinReason);
      return;
    }
    const reason = e.reason ?? e.error;
    if (e.error === 'cannot_send_to_channel' && e.channel !== undefined) this.queue.failTarget(e.channel, `cannot send to ${e.channel}: ${reason}`, (a, b) => this.same(a, b));
    else if ((e.error === 'no_such_nick' || e.error === 'cannot_send_to_user') && e.nick !== undefined) {
      this.queue.failTarget(e.nick, `${e.nick}: ${reason}`, (a, b) => this.same(a, b));
    } else if (e.error === 'not_on_channel' && e.channel !== undefined) this.queue.failTarget(e.channel, `not on ${e.channel}`, (a, b) => this.same(a, b));
    else if (e.error === 'password_mismatch') this.fail({ kind: 'password', text: `${this.server} refused the server password` });
    else if (e.error === 'irc') {
      this.cause = { kind: 'closed', text: `${this.server} closed the link: ${reason}` };
      // Refused before registration for a bad password: retrying cannot help.
      if (this.stateValue === 'connecting' && /password/i.test(reason)) this.fail({ kind: 'password', text: `${this.server} refused the server password (${reason})` });
    } else if (e.error === 'banned_from_network') this.cause = { kind: 'banned', text: `banned from ${this.server}: ${reason}` };
  }
}
