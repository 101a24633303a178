// A small scripted IRC server speaking just enough IRCv3 for what ngircd does not offer: CAP negotiation
// with a chosen capability list, SASL PLAIN, server-time, echo-message with msgids, extended-join,
// account-tag and draft/message-redaction (REDACT relayed to the channel). A test double for unit tests;
// the real-server tests use ngircd.
import { createServer, type Server, type Socket } from 'node:net';
import { parseLine } from './IrcTestClient.js';

export interface ScriptedClient {
  socket: Socket;
  nick: string;
  /** Every line the client sent, in order. */
  received: string[];
  caps: Set<string>;
  channels: Set<string>;
}

export interface ScriptedServerOptions {
  /** Capabilities offered in CAP LS (`sasl=PLAIN` style values allowed). */
  caps?: string[];
  /** SASL PLAIN credentials the server accepts: account -> password. */
  sasl?: Record<string, string>;
}

export const DEFAULT_CAPS = ['sasl=PLAIN', 'server-time', 'echo-message', 'message-tags'];

export class ScriptedIrcv3Server {
  readonly clients: ScriptedClient[] = [];
  private server: Server | null = null;
  private msgidCounter = 0;
  port = 0;

  constructor(private readonly options: ScriptedServerOptions = {}) {}

  async start(): Promise<void> {
    this.server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address !== null ? address.port : 0;
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.socket.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** Sends a line to every connected client. */
  broadcast(line: string): void {
    for (const c of this.clients) if (!c.socket.destroyed) c.socket.write(`${line}\r\n`);
  }

  /** The newest open connection with this nick. */
  client(nick: string): ScriptedClient | undefined {
    return [...this.clients].reverse().find((c) => c.nick.toLowerCase() === nick.toLowerCase() && !c.socket.destroyed);
  }

  /** Lines a client sent with this command, e.g. every REDACT. */
  sent(nick: string, command: string): string[] {
    return (this.client(nick)?.received ?? []).filter((l) => parseLine(l).command === command);
  }

  private get caps(): string[] {
    return this.options.caps ?? DEFAULT_CAPS;
  }

  private capNames(): Set<string> {
    return new Set(this.caps.map((c) => c.split('=')[0] as string));
  }

  private relay(from: ScriptedClient, channel: string, line: string, tags: Record<string, string>): void {
    for (const c of this.clients) {
      if (c === from || c.socket.destroyed || !c.channels.has(channel.toLowerCase())) continue;
      const wanted = Object.entries(tags).filter(([k]) => k !== 'time' || c.caps.has('server-time'));
      const prefix = c.caps.has('message-tags') && wanted.length > 0 ? `@${wanted.map(([k, v]) => `${k}=${v}`).join(';')} ` : '';
      c.socket.write(`${prefix}${line}\r\n`);
    }
  }

  private accept(socket: Socket): void {
    const client: ScriptedClient = { socket, nick: '*', received: [], caps: new Set(), channels: new Set() };
    this.clients.push(client);
    const send = (line: string): void => void socket.write(`${line}\r\n`);
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    socket.on('data', (data: string) => {
      buffer += data;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const raw = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        client.received.push(raw);
        const l = parseLine(raw);
        const p = l.params;
        const mask = `${client.nick}!u@h`;
        switch (l.command) {
          case 'CAP':
            if (p[0] === 'LS') send(`:srv CAP * LS :${this.caps.join(' ')}`);
            if (p[0] === 'REQ') {
              const offered = this.capNames();
              const asked = (p[1] ?? '').split(' ').filter((c) => c !== '');
              if (asked.every((c) => offered.has(c))) {
                for (const c of asked) client.caps.add(c);
                send(`:srv CAP * ACK :${p[1]}`);
              } else send(`:srv CAP * NAK :${p[1]}`);
            }
            if (p[0] === 'END') {
              send(`:srv 001 ${client.nick} :Welcome ${mask}`);
              send(`:srv 005 ${client.nick} CASEMAPPING=rfc1459 NICKLEN=30 CHANTYPES=# :are supported`);
              send(`:srv 376 ${client.nick} :End of MOTD`);
            }
            break;
          case 'NICK':
            client.nick = p[0] ?? '*';
            break;
          case 'AUTHENTICATE': {
            if (p[0] === 'PLAIN') {
              send('AUTHENTICATE +');
              break;
            }
            const [, account, password] = Buffer.from(p[0] ?? '', 'base64').toString().split('\0');
            if (account !== undefined && this.options.sasl?.[account] === password) {
              send(`:srv 900 ${client.nick} ${mask} ${account} :You are now logged in`);
              send(`:srv 903 ${client.nick} :SASL authentication successful`);
            } else send(`:srv 904 ${client.nick} :SASL authentication failed`);
            break;
          }
          case 'PING':
            send(`:srv PONG srv :${p[0] ?? ''}`);
            break;
          case 'QUIT':
            send(`ERROR :Closing link (${p[0] ?? ''})`);
            socket.end();
            socket.destroy();
            break;
          case 'JOIN': {
            const channel = p[0] ?? '';
            client.channels.add(channel.toLowerCase());
            send(client.caps.has('extended-join') ? `:${mask} JOIN ${channel} * :realname` : `:${mask} JOIN ${channel}`);
            send(`:srv 353 ${client.nick} = ${channel} :${client.nick} carol`);
            send(`:srv 366 ${client.nick} ${channel} :End of NAMES`);
            break;
          }
          case 'PRIVMSG':
          case 'NOTICE': {
            const msgid = `m${++this.msgidCounter}`;
            const line = `:${mask} ${l.command} ${p[0]} :${p[1]}`;
            if (client.caps.has('echo-message')) send(`@msgid=${msgid};time=2030-01-01T00:00:00.000Z ${line}`);
            this.relay(client, p[0] ?? '', line, { msgid });
            break;
          }
          case 'REDACT': {
            if (!client.caps.has('draft/message-redaction')) {
              send(`:srv 421 ${client.nick} REDACT :Unknown command`);
              break;
            }
            const line = `:${mask} REDACT ${p[0]} ${p[1]}${p[2] !== undefined ? ` :${p[2]}` : ''}`;
            if (client.caps.has('echo-message')) send(line);
            this.relay(client, p[0] ?? '', line, {});
            break;
          }
          default:
        }
      }
    });
  }
}
