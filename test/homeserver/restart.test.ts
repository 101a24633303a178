// Durability: what the homeserver acknowledged survives a clean restart and a kill -9 (SQLite storage):
// rooms, messages, access tokens, and appservice transactions not yet delivered.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import type { ClientEvent } from '../../homeserver/contracts.js';
import {
  enc,
  MatrixHttpClient,
  registerUser,
  startTestHomeserver,
  TestAppservice,
  waitFor,
  writeAppserviceRegistration,
  type TestHomeserver,
  type TestUser,
} from '../harness/index.js';

const bodies = (events: ClientEvent[], prefix: string): string[] =>
  events.filter((e) => e.type === 'm.room.message' && String(e.content.body).startsWith(prefix)).map((e) => String(e.content.body));

/** Messages of a room, oldest first, read back through /messages. */
async function roomMessages(user: TestUser, roomId: string, prefix: string): Promise<string[]> {
  const res = await user.http.get<{ chunk: ClientEvent[] }>(`/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 1000 } });
  if (res.status !== 200) throw new Error(`/messages -> ${res.status} ${JSON.stringify(res.body)}`);
  return bodies([...res.body.chunk].reverse(), prefix);
}

describe('restart of a SQLite-backed homeserver (in process)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-restart-'));
  const as = new TestAppservice({ id: 'restart-as', prefix: '_rs_' });
  let hs: TestHomeserver | null = null;
  let alice: TestUser;
  let roomId = '';
  let nextBatch = '';
  const storage = { kind: 'sqlite' as const, path: join(dir, 'homeserver.sqlite') };
  const start = async (files: string[]): Promise<TestHomeserver> => {
    const started = await startTestHomeserver({ storage, mediaDir: join(dir, 'media'), appserviceConfigFiles: files });
    as.homeserverUrl = started.url;
    return started;
  };

  beforeAll(async () => {
    await as.start();
  });

  afterAll(async () => {
    await hs?.stop();
    await as.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps rooms, messages, tokens and undelivered transactions across stop and start', async () => {
    const files = [await writeAppserviceRegistration(as, dir)];
    hs = await start(files);
    alice = await registerUser(hs.url, 'alice');
    roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { name: 'Durable', invite: [as.senderUserId] } })).room_id;
    await as.http.ok('POST', `/rooms/${enc(roomId)}/join`, { body: {} });
    for (let i = 0; i < 20; i += 1) {
      await alice.http.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/before${i}`, { body: { msgtype: 'm.text', body: `before ${i}` } });
    }
    await waitFor(() => bodies(as.events, 'before ').length === 20, 20_000, 'the first 20 messages at the appservice');
    const sync = await alice.http.ok<{ next_batch: string }>('GET', '/sync', { query: { timeout: 0 } });
    nextBatch = sync.next_batch;

    // The appservice goes down: these messages are stored but not delivered when the homeserver stops.
    as.failNextTransactions(1_000_000);
    for (let i = 0; i < 10; i += 1) {
      await alice.http.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/pending${i}`, { body: { msgtype: 'm.text', body: `pending ${i}` } });
    }
    await waitFor(() => as.attempts.some((a) => a.answered === 500), 20_000, 'a failed delivery attempt');
    await hs.stop();
    hs = null;
    as.failNextTransactions(0);

    hs = await start(files);
    // The new instance listens on a new port; the old token must still be valid there.
    alice = { ...alice, http: new MatrixHttpClient(hs.url, alice.accessToken) };
    expect((await alice.http.get('/account/whoami')).body.user_id).toBe('@alice:localhost');
    const joined = await alice.http.ok<{ joined_rooms: string[] }>('GET', '/joined_rooms');
    expect(joined.joined_rooms).toContain(roomId);
    expect(await roomMessages(alice, roomId, 'before ')).toEqual(Array.from({ length: 20 }, (_, i) => `before ${i}`));
    expect(await roomMessages(alice, roomId, 'pending ')).toEqual(Array.from({ length: 10 }, (_, i) => `pending ${i}`));
    const name = await alice.http.get<{ name: string }>(`/rooms/${enc(roomId)}/state/m.room.name/`);
    expect(name.body.name).toBe('Durable');

    await waitFor(() => bodies(as.events, 'pending ').length >= 10, 30_000, 'the undelivered messages after the restart');
    expect(bodies(as.events, 'pending ')).toEqual(Array.from({ length: 10 }, (_, i) => `pending ${i}`));
    expect(bodies(as.events, 'before ')).toHaveLength(20);
  });

  it('continues sync from a token issued before the restart', async () => {
    const res = await alice.http.get<{ next_batch: string; rooms?: { join?: Record<string, { timeline: { events: ClientEvent[] } }> } }>('/sync', {
      query: { since: nextBatch, timeout: 0 },
    });
    expect(res.status).toBe(200);
    const timeline = res.body.rooms?.join?.[roomId]?.timeline.events ?? [];
    expect(bodies(timeline, 'pending ')).toEqual(Array.from({ length: 10 }, (_, i) => `pending ${i}`));
  });

  it('keeps serving writes after the restart', async () => {
    await alice.http.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/after`, { body: { msgtype: 'm.text', body: 'after restart' } });
    await waitFor(() => bodies(as.events, 'after restart').length === 1, 20_000, 'a new message at the appservice');
  });
});

/** The CLI entry point (built by tsc), or null when it has not been written yet. */
function cliEntry(): string | null {
  let root = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(root, 'package.json'))) root = dirname(root);
  for (const candidate of [join(root, 'dist', 'bin', 'patchbay.js'), join(root, 'bin', 'patchbay.js')]) {
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('kill -9 of a homeserver process (patchbay homeserver)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-kill-'));
  const as = new TestAppservice({ id: 'kill-as', prefix: '_kill_' });
  let child: ChildProcess | null = null;
  let url = '';
  let output = '';
  const configFile = join(dir, 'patchbay.yaml');

  const startChild = async (): Promise<void> => {
    const entry = cliEntry();
    if (entry === null) throw new Error('the patchbay CLI (dist/bin/patchbay.js) is not built yet');
    child = spawn(process.execPath, [entry, 'homeserver', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => void (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => void (output += d.toString()));
    const http = new MatrixHttpClient(url);
    const exited = new Promise<never>((_, reject) => child?.once('exit', (code) => reject(new Error(`patchbay homeserver exited (${code}):\n${output}`))));
    await Promise.race([waitFor(async () => (await http.get('/_matrix/client/versions')).status === 200, 30_000, `patchbay homeserver on ${url}\n${output}`), exited]);
  };
  const kill9 = async (): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null) return;
    const gone = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGKILL');
    await gone;
    child = null;
  };

  beforeAll(async () => {
    await as.start();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    as.homeserverUrl = url;
    const config = {
      data_dir: resolve(dir, 'data'),
      logging: { level: 'warn' },
      homeserver: {
        port,
        storage: 'sqlite',
        app_service_config_files: [await writeAppserviceRegistration(as, dir)],
        appservice_retry: { initial_ms: 50, max_ms: 500 },
      },
    };
    writeFileSync(configFile, YAML.stringify(config));
  });

  afterAll(async () => {
    await kill9();
    await as.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps acknowledged writes and undelivered transactions', async () => {
    await startChild();
    let alice = await registerUser(url, 'alice');
    const roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { name: 'Crash test', invite: [as.senderUserId] } })).room_id;
    await as.http.ok('POST', `/rooms/${enc(roomId)}/join`, { body: {} });
    await waitFor(() => as.events.some((e) => e.type === 'm.room.member' && e.state_key === as.senderUserId && e.content.membership === 'join'), 20_000, 'the bot\'s join');
    as.failNextTransactions(1_000_000);
    for (let i = 0; i < 50; i += 1) {
      await alice.http.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/k${i}`, { body: { msgtype: 'm.text', body: `crash ${i}` } });
    }
    await kill9();
    as.failNextTransactions(0);

    await startChild();
    alice = { ...alice, http: new MatrixHttpClient(url, alice.accessToken) };
    expect((await alice.http.get('/account/whoami')).body.user_id).toBe('@alice:localhost');
    expect((await alice.http.ok<{ joined_rooms: string[] }>('GET', '/joined_rooms')).joined_rooms).toContain(roomId);
    expect(await roomMessages(alice, roomId, 'crash ')).toEqual(Array.from({ length: 50 }, (_, i) => `crash ${i}`));
    await waitFor(() => bodies(as.events, 'crash ').length >= 50, 30_000, 'the 50 messages at the appservice after the crash');
    expect(bodies(as.events, 'crash ')).toEqual(Array.from({ length: 50 }, (_, i) => `crash ${i}`));
  });
});
