// IRCv3 behaviour ngircd does not offer (SASL PLAIN, server-time, echo-message, msgid), against a small
// scripted server speaking just enough of the protocol. A unit test: the scripted server is a mock.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { createServer, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { normalizeNetworks } from '../IrcConfig.js';
import { IrcNetwork } from '../IrcNetwork.js';
import { parseLine } from './IrcTestClient.js';
import { RecordingSink } from './RecordingSink.js';

const logger = pino({ level: process.env.PATCHBAY_TEST_LOG ?? 'silent' });

interface Client {
  socket: Socket;
  nick: string;
  received: string[];
}

class ScriptedIrcv3Server {
  readonly clients: Client[] = [];
  private server: Server | null = null;
  port = 0;

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

  broadcast(line: string): void {
    for (const c of this.clients) c.socket.write(`${line}\r\n`);
  }

  private accept(socket: Socket): void {
    const client: Client = { socket, nick: '*', received: [] };
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
        switch (l.command) {
          case 'CAP':
            if (p[0] === 'LS') send(':srv CAP * LS :sasl=PLAIN server-time echo-message message-tags');
            if (p[0] === 'REQ') send(`:srv CAP * ACK :${p[1]}`);
            break;
          case 'NICK':
            client.nick = p[0] ?? '*';
            break;
          case 'AUTHENTICATE':
            if (p[0] === 'PLAIN') send('AUTHENTICATE +');
            else if (Buffer.from(p[0] ?? '', 'base64').toString() === 'botacct\0botacct\0secret') {
              send(`:srv 900 ${client.nick} ${client.nick}!u@h botacct :You are now logged in`);
              send(`:srv 903 ${client.nick} :SASL authentication successful`);
            } else send(`:srv 904 ${client.nick} :SASL authentication failed`);
            break;
          case 'PING':
            send(`:srv PONG srv :${p[0] ?? ''}`);
            break;
          case 'JOIN':
            send(`:${client.nick}!u@h JOIN ${p[0]}`);
            send(`:srv 353 ${client.nick} = ${p[0]} :${client.nick} carol`);
            send(`:srv 366 ${client.nick} ${p[0]} :End of NAMES`);
            break;
          case 'PRIVMSG':
            // echo-message: the sender gets its own message back, tagged.
            send(`@msgid=echo${client.received.length};time=2030-01-01T00:00:00.000Z :${client.nick}!u@h PRIVMSG ${p[0]} :${p[1]}`);
            break;
          default:
        }
        if (l.command === 'CAP' && p[0] === 'END') {
          send(`:srv 001 ${client.nick} :Welcome ${client.nick}!u@h`);
          send(`:srv 005 ${client.nick} CASEMAPPING=rfc1459 NICKLEN=30 CHANTYPES=# :are supported`);
          send(`:srv 376 ${client.nick} :End of MOTD`);
        }
      }
    });
  }
}

const server = new ScriptedIrcv3Server();
const sink = new RecordingSink();
let network: IrcNetwork;

beforeAll(async () => {
  await server.start();
  const [settings] = normalizeNetworks({
    networks: {
      v3: {
        host: '127.0.0.1',
        port: server.port,
        bot: { nick: 'bridgebot', sasl: { account: 'botacct', password: 'secret' } },
        limits: { lines_per_second: 100, burst: 10, connect_interval_ms: 0, reconnect_initial_ms: 20, reconnect_max_attempts: 1 },
      },
    },
  });
  network = new IrcNetwork(settings!, sink, logger);
  await network.start();
  await network.addChannel('#v3');
});

afterAll(async () => {
  await network?.stop();
  await server.stop();
});

test('the bot authenticates with SASL PLAIN and negotiates server-time and echo-message', () => {
  const bot = server.clients.find((c) => c.nick === 'bridgebot') as Client;
  expect(bot.received).toContain('AUTHENTICATE PLAIN');
  const req = bot.received.find((l) => l.startsWith('CAP REQ'));
  for (const cap of ['sasl', 'server-time', 'echo-message', 'message-tags']) expect(req).toContain(cap);
  // No credentials leak into the log of lines: the PLAIN blob is only ever sent after the server's '+'.
  expect(bot.received.indexOf('AUTHENTICATE PLAIN')).toBeLessThan(bot.received.findIndex((l) => l.startsWith('AUTHENTICATE ') && l !== 'AUTHENTICATE PLAIN'));
  expect(network.bot.client.network.cap.isEnabled('echo-message')).toBe(true);
});

test('server-time and msgid of IRC messages reach the Matrix side', async () => {
  server.broadcast('@time=2020-01-02T03:04:05.000Z;msgid=abc123 :carol!c@h PRIVMSG #v3 :old news');
  const msg = await sink.waitFor((e) => e.type === 'message' && e.text === 'old news');
  expect(msg).toMatchObject({ time: Date.UTC(2020, 0, 2, 3, 4, 5), msgid: 'abc123', from: { nick: 'carol', ghost: 'v3_carol' } });
});

test('echo-message: a puppet\'s own echoed line is not mirrored back to Matrix', async () => {
  await network.sendAs('@dana:hs', 'Dana', null, '#v3', 'hello v3', 'privmsg');
  const puppet = server.clients.find((c) => c.nick === 'Dana[m]') as Client;
  expect(puppet.received).toContain('PRIVMSG #v3 :hello v3');
  server.broadcast(':carol!c@h PRIVMSG #v3 :after');
  await sink.waitFor((e) => e.type === 'message' && e.text === 'after');
  expect(sink.of('message').map((e) => e.text)).toEqual(['old news', 'after']);
});

test('a SASL failure gives up visibly instead of connecting unauthenticated', async () => {
  const [settings] = normalizeNetworks({
    networks: { bad: { host: '127.0.0.1', port: server.port, bot: { nick: 'badbot', sasl: { account: 'botacct', password: 'wrong' } } } },
  });
  const bad = new IrcNetwork(settings!, new RecordingSink(), logger);
  await expect(bad.start()).rejects.toThrow(/SASL authentication failed/);
  expect(bad.bot.state).toBe('failed');
  await bad.stop();
});
