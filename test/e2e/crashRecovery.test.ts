// kill -9 of `patchbay start` while a room's messages are on their way to IRC, then a restart: the room
// stays quiet afterwards, so nothing but the restart itself may move its messages on. They must all reach
// IRC, in order, within host.job_takeover_ms of the restart (the killed run's job is not left waiting for
// its lock to expire, nor its partition for its dead worker's heartbeat).
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IrcTestClient } from '../../bridges/irc/test/IrcTestClient.js';
import { NgircdServer } from '../../bridges/irc/test/NgircdServer.js';
import { enc, registerUser, waitFor } from '../harness/index.js';
import { freePort, PatchbayProcess } from './PatchbayProcess.js';

const TAKEOVER_MS = 10_000;
const MESSAGES = 40;
const READY = /^patchbay start: ready\./;

const ircd = new NgircdServer();
const cwd = mkdtempSync(join(tmpdir(), 'patchbay-crash-'));
const processes: PatchbayProcess[] = [];
let bob: IrcTestClient;
let homeserverUrl = '';

const start = (): PatchbayProcess => {
  const p = PatchbayProcess.start(['start', '-c', 'patchbay.yaml'], { cwd });
  processes.push(p);
  return p;
};

beforeAll(async () => {
  await ircd.start();
  bob = new IrcTestClient(ircd.host, ircd.port, 'bob');
  await bob.connect();
  await bob.join('#chat');
  const [hsPort, hostPort] = [await freePort(), await freePort()];
  homeserverUrl = `http://127.0.0.1:${hsPort}`;
  writeFileSync(
    join(cwd, 'patchbay.yaml'),
    [
      'data_dir: ./data',
      `homeserver: { port: ${hsPort}, appservice_retry: { initial_ms: 100, max_ms: 1000 } }`,
      `host: { port: ${hostPort}, job_takeover_ms: ${TAKEOVER_MS} }`,
      'bridges:',
      '  example: { enabled: false }',
      '  irc:',
      '    enabled: true',
      '    networks:',
      `      test: { host: ${ircd.host}, port: ${ircd.port}, limits: { lines_per_second: 50, burst: 50, connect_interval_ms: 0, reconnect_initial_ms: 100 } }`,
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  for (const p of processes) p.killGroup();
  await Promise.all(processes.map((p) => p.exited));
  bob?.close();
  await ircd.stop();
  rmSync(cwd, { recursive: true, force: true });
});

test('after kill -9 and a restart, a quiet room\'s messages all reach IRC within host.job_takeover_ms, in order', async () => {
  const first = start();
  await first.waitForLine(READY);
  const alice = await registerUser(homeserverUrl, 'alice');
  const { room_id: roomId } = await alice.http.ok<{ room_id: string }>('POST', `/join/${enc('#irc_test_#chat:localhost')}`, { body: {} });
  const onIrc = (): string[] => bob.lines.filter((l) => l.command === 'PRIVMSG' && l.params[0] === '#chat').map((l) => l.params[1] ?? '');
  await alice.http.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/warm`, { body: { msgtype: 'm.text', body: 'warm up' } });
  await waitFor(() => onIrc().includes('warm up'), 30_000, 'the first message on IRC');

  // Each 200 means the homeserver stored it; the crash comes right after the last one.
  for (let i = 1; i <= MESSAGES; i++) {
    await alice.http.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/m${i}`, { body: { msgtype: 'm.text', body: `msg ${i}` } });
  }
  await first.crash();

  const second = start();
  await second.waitForLine(READY, 60_000);
  const restarted = Date.now();
  const expected = Array.from({ length: MESSAGES }, (_, i) => `msg ${i + 1}`);
  await waitFor(() => expected.every((m) => onIrc().includes(m)), TAKEOVER_MS, `all ${MESSAGES} messages on IRC within ${TAKEOVER_MS} ms of the restart`);
  expect(Date.now() - restarted).toBeLessThanOrEqual(TAKEOVER_MS);
  // In order; a line IRC read just before the crash may come twice, never out of order.
  expect([...new Set(onIrc().filter((m) => m.startsWith('msg ')))]).toEqual(expected);
}, 120_000);
