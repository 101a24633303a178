// ngircd killed (SIGKILL) and restarted mid-conversation: the connection comes back by itself, rejoins,
// and every message that was queued or unproven when the server died still arrives, in order.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { pino } from 'pino';
import { ConnectPacer } from '../ConnectPacer.js';
import { IrcConnection } from '../IrcConnection.js';
import { IrcTestClient } from './IrcTestClient.js';
import { NgircdServer } from './NgircdServer.js';

const logger = pino({ level: process.env.PATCHBAY_TEST_LOG ?? 'silent' });
const server = new NgircdServer();
let watcher: IrcTestClient;
let sender: IrcConnection;

beforeAll(async () => {
  await server.start();
});

afterAll(async () => {
  await sender?.quit('bye', 100).catch(() => undefined);
  watcher?.close();
  await server.stop();
});

test('kill -9 and restart of ngircd: the connection returns and no queued message is lost', async () => {
  watcher = new IrcTestClient(server.host, server.port, 'watcher');
  await watcher.connect();
  await watcher.join('#ops');
  // The test holds the only connect slot while the server is down, so the sender cannot rejoin before
  // the watcher is back (messages said to an empty channel reach nobody, on any IRC server).
  const pacer = new ConnectPacer({ concurrency: 1, intervalMs: 0 });
  let reconnects = 0;
  sender = new IrcConnection(
    {
      host: server.host,
      port: server.port,
      nick: 'sender',
      username: 'patchbay',
      realname: 'Patchbay',
      linesPerSecond: 50,
      burst: 5,
      reconnect: { initialDelayMs: 20, maxDelayMs: 200, maxAttempts: 0 },
      registrationTimeoutMs: 10_000,
      echoMessage: true,
    },
    pacer,
    logger,
    { onRegistered: () => reconnects++ },
  );
  await sender.join('#ops');
  const delivered: Array<Promise<void>> = [];
  for (let i = 0; i < 40; i++) delivered.push(sender.say('#ops', `msg ${i}`));
  // Part of the conversation is through when the server dies.
  await watcher.waitForCount((l) => l.command === 'PRIVMSG' && l.params[0] === '#ops', 10);
  const hold = await pacer.acquire();
  await server.kill();
  for (let i = 40; i < 80; i++) delivered.push(sender.say('#ops', `msg ${i}`));
  const before = watcher.lines.filter((l) => l.command === 'PRIVMSG').map((l) => l.params[1] ?? '');

  await server.start();
  watcher.close();
  await watcher.connect();
  await watcher.join('#ops');
  hold();

  await Promise.all(delivered);
  const after = await watcher.waitForCount((l) => l.command === 'PRIVMSG' && l.params[1] === 'msg 79', 1);
  expect(after).toHaveLength(1);
  const received = [...before, ...watcher.lines.filter((l) => l.command === 'PRIVMSG').map((l) => l.params[1] ?? '')];
  // Every message arrived; a line the server read just before dying may arrive twice, never out of order.
  const firstSeen = [...new Set(received)];
  expect(firstSeen).toEqual(Array.from({ length: 80 }, (_, i) => `msg ${i}`));
  expect(received.length - firstSeen.length).toBeLessThanOrEqual(10);
  expect(reconnects).toBe(2);
  expect(sender.state).toBe('registered');
  expect(sender.isJoined('#ops')).toBe(true);
});
