// TLS with a private CA and a server password, against a real ngircd listening with TLS.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { pino } from 'pino';
import { ConnectPacer } from '../ConnectPacer.js';
import { IrcConnection, type IrcConnectionConfig } from '../IrcConnection.js';
import { NgircdServer } from './NgircdServer.js';

const logger = pino({ level: process.env.PATCHBAY_TEST_LOG ?? 'silent' });
const server = new NgircdServer({ tls: true, password: 'letmein' });
const open: IrcConnection[] = [];

function connect(nick: string, overrides: Partial<IrcConnectionConfig>): { conn: IrcConnection; failed: Promise<string> } {
  let onFailed!: (reason: string) => void;
  const failed = new Promise<string>((resolve) => (onFailed = resolve));
  const conn = new IrcConnection(
    {
      host: server.host,
      port: server.tlsPort,
      nick,
      username: 'patchbay',
      realname: 'TLS test',
      linesPerSecond: 100,
      burst: 10,
      reconnect: { initialDelayMs: 20, maxDelayMs: 50, maxAttempts: 2 },
      registrationTimeoutMs: 10_000,
      echoMessage: false,
      ...overrides,
    },
    new ConnectPacer({ concurrency: 1, intervalMs: 0 }),
    logger,
    { onFailed },
  );
  open.push(conn);
  return { conn, failed };
}

beforeAll(async () => {
  await server.start();
});

afterAll(async () => {
  for (const c of open) await c.quit('bye', 100).catch(() => undefined);
  await server.stop();
});

test('TLS verified against the configured CA, with the server password', async () => {
  const { conn } = connect('secure', { tls: { ca: server.caPem }, password: 'letmein' });
  await conn.connect();
  expect(conn.state).toBe('registered');
  await conn.join('#tls');
  await conn.say('#tls', 'over TLS');
});

test('an untrusted certificate is refused, visibly, after the configured attempts', async () => {
  const { conn, failed } = connect('untrusted', { tls: {}, password: 'letmein' });
  const registering = conn.connect();
  expect(await failed).toMatch(/after 2 attempts/);
  await expect(registering).rejects.toThrow();
  expect(conn.state).toBe('failed');
  await expect(conn.say('#tls', 'x')).rejects.toThrow(/after 2 attempts/);
});

test('a wrong server password gives up instead of retrying forever', async () => {
  const { conn, failed } = connect('badpass', { tls: { ca: server.caPem }, password: 'wrong', reconnect: { initialDelayMs: 20, maxDelayMs: 50, maxAttempts: 0 } });
  void conn.connect().catch(() => undefined);
  expect(await failed).toMatch(/refused the server password/);
});
