// Typed facade over irc-framework 4 (which ships no types): only the parts Patchbay uses. The library
// parses lines, negotiates CAPs (server-time, echo-message, SASL) and turns numerics into events; every
// line Patchbay sends goes through `raw()` from its own flood-control queue, never the library's senders.
import { createRequire } from 'node:module';

export interface MessageEvent {
  nick: string;
  ident: string;
  hostname: string;
  target: string;
  message: string;
  /** Server time (ms) when the server offered `server-time`. */
  time?: number;
  tags: Record<string, string>;
  /** The sender's services account (IRCv3 account-tag), when the server tags it. */
  account?: string;
  from_server: boolean;
}

export interface JoinEvent {
  nick: string;
  ident: string;
  hostname: string;
  channel: string;
  time?: number;
  account?: string | false;
}

export interface PartEvent {
  nick: string;
  channel: string;
  message: string;
  time?: number;
}

export interface KickEvent {
  kicked: string;
  nick: string;
  channel: string;
  message: string;
  time?: number;
}

export interface QuitEvent {
  nick: string;
  message: string;
  time?: number;
}

export interface NickEvent {
  nick: string;
  new_nick: string;
  time?: number;
}

export interface TopicEvent {
  channel: string;
  topic: string;
  /** Absent for the RPL_TOPIC reply on join. */
  nick?: string;
  time?: number;
}

export interface UserlistEvent {
  channel: string;
  users: Array<{ nick: string; ident?: string; hostname?: string; modes: string[] }>;
}

export interface IrcErrorEvent {
  error: string;
  channel?: string;
  nick?: string;
  reason?: string;
}

export interface WhoisEvent {
  nick: string;
  error?: string;
  ident?: string;
  hostname?: string;
  real_name?: string;
  server?: string;
  channels?: string;
  idle?: number;
  account?: string;
  away?: string;
}

export interface UnknownCommandEvent {
  command: string;
  params: string[];
  /** Sender of a command from a user (REDACT), empty for server numerics. */
  nick?: string;
  tags?: Record<string, string>;
}

/** IRCv3 account-notify: a user logged in to (account set) or out of (false) services. */
export interface AccountEvent {
  nick: string;
  account: string | false;
}

export interface IrcClientEvents {
  registered: { nick: string };
  'socket close': Error | false | undefined;
  privmsg: MessageEvent;
  notice: MessageEvent;
  action: MessageEvent;
  'ctcp request': MessageEvent & { type: string | null };
  join: JoinEvent;
  part: PartEvent;
  kick: KickEvent;
  quit: QuitEvent;
  nick: NickEvent;
  topic: TopicEvent;
  userlist: UserlistEvent;
  'nick in use': { nick: string; reason: string };
  'nick invalid': { nick: string; reason: string };
  'irc error': IrcErrorEvent;
  'sasl failed': { reason: string; message?: string };
  pong: { message: string };
  whois: WhoisEvent;
  raw: { line: string; from_server: boolean };
  'unknown command': UnknownCommandEvent;
  account: AccountEvent;
}

export interface IrcClientOptions {
  host: string;
  port: number;
  nick: string;
  username: string;
  gecos: string;
  /** Server password (PASS). */
  password?: string;
  /** SASL PLAIN credentials; `{}` means none (irc-framework would otherwise try the server password). */
  account?: { account?: string; password?: string };
  auto_reconnect: false;
  enable_echomessage: boolean;
  /** Null stops the library answering CTCP VERSION on its own (outside the flood queue). */
  version: null;
  ping_interval: number;
  ping_timeout: number;
  /** A transport class: Patchbay's IrcSocketTransport; it receives these same options. */
  transport: unknown;
  [transportOption: string]: unknown;
}

export interface IrcClient {
  connect(options?: IrcClientOptions): void;
  /** Extra IRCv3 capabilities to ask for when the server offers them (before connect). */
  requestCap(caps: string | string[]): void;
  /** Writes one line verbatim (no splitting); caller guarantees it holds no CR/LF. */
  raw(line: string): void;
  quit(message?: string): void;
  readonly connected: boolean;
  readonly user: { nick: string; username: string; host: string };
  readonly network: {
    name: string;
    supports(name: string): unknown;
    options: Record<string, unknown>;
    cap: { isEnabled(name: string): boolean; enabled: string[] };
  };
  readonly connection: { end(data?: string, hadError?: boolean): void; connected: boolean };
  on<E extends keyof IrcClientEvents>(event: E, handler: (payload: IrcClientEvents[E]) => void): this;
  removeAllListeners(): this;
}

interface IrcFrameworkModule {
  Client: new () => IrcClient;
}

const require = createRequire(import.meta.url);
const ircFramework = require('irc-framework') as IrcFrameworkModule;

export function createIrcClient(): IrcClient {
  return new ircFramework.Client();
}
