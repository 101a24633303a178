// `patchbay start` as a user runs it: a real process from the built CLI, its own Redis under data_dir, the
// embedded homeserver and the example bridge; a matrix-js-sdk user talks to the bridge; `patchbay doctor`
// checks the running deployment and names what is wrong when something is.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import yaml from 'js-yaml';
import * as sdk from 'matrix-js-sdk';
import type { ExampleRecord } from '../../bridges/example/index.js';
import { RuntimeKeys } from '../../core/store/BridgeKeyspace.js';
import { RedisPluginStore } from '../../core/store/RedisPluginStore.js';
import { generateRegistration, readRegistrationFile, RegistrationNamespaces, writeRegistrationFile } from '../../registration/index.js';
import { registerUser, startSdkClient, timelineOf, uniqueLocalpart, waitFor } from '../harness/index.js';
import { freePort, PatchbayProcess } from '../e2e/PatchbayProcess.js';

const READY = /^patchbay start: ready\. Homeserver (\S+) \(server name (\S+)\), appservice host (\S+), Redis (\S+), bridges: (.*)\. Stop/;
const ECHO = '@example_echo:localhost';

// The homeserver URL and the registration file doctor uses can be swapped through the environment.
const CONFIG = `
data_dir: ./data
logging:
  level: info
homeserver:
  port: 0
  appservice_retry: { initial_ms: 100, max_ms: 1000 }
  app_service_config_files: []
host:
  port: \${PB_HOST_PORT:-0}
  homeserver_url: "\${PB_HS_URL:-}"
  registration: "\${PB_REGISTRATION:-registration.yaml}"
`;

describe('patchbay start', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'patchbay-start-'));
  const dataDir = join(cwd, 'data');
  const registrationPath = join(dataDir, 'registration.yaml');
  const processes: PatchbayProcess[] = [];
  let start: PatchbayProcess;
  let homeserverUrl = '';
  let hostUrl = '';
  let redis: Redis;

  const launch = (args: string[], env: NodeJS.ProcessEnv = {}): PatchbayProcess => {
    const p = PatchbayProcess.start(args, { cwd, env });
    processes.push(p);
    return p;
  };
  const doctor = (env: NodeJS.ProcessEnv = {}) =>
    PatchbayProcess.run(['doctor', '-c', 'patchbay.yaml'], { cwd, env: { PB_HS_URL: homeserverUrl, ...env } });

  beforeAll(async () => {
    writeFileSync(join(cwd, 'patchbay.yaml'), CONFIG);
    start = launch(['start', '-c', 'patchbay.yaml']);
    const ready = await start.waitForLine(READY);
    [, homeserverUrl = '', , hostUrl = ''] = ready;
    redis = new Redis({ path: join(dataDir, 'redis', 'redis.sock'), lazyConnect: true });
  });

  afterAll(async () => {
    redis?.disconnect();
    for (const p of processes) p.killGroup();
    await Promise.all(processes.map((p) => p.exited));
    rmSync(cwd, { recursive: true, force: true });
  });

  test('prints a ready line with the bound ports and writes a private registration for the example bridge', async () => {
    expect(homeserverUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(hostUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(homeserverUrl).not.toMatch(/:0$/);
    expect(hostUrl).not.toMatch(/:0$/);
    expect(start.stdout).toMatch(/bridges: example\./);
    const reg = await readRegistrationFile(registrationPath);
    expect(reg.url).toBe(hostUrl);
    expect(statSync(registrationPath).mode & 0o777).toBe(0o600);
    const ns = new RegistrationNamespaces(reg, 'localhost');
    expect(ns.matchUser(ECHO)?.exclusive).toBe(true);
    expect(ns.matchAlias('#example_lobby:localhost')?.exclusive).toBe(true);
    expect(start.logCount('registration: created (give this file to your homeserver)')).toBe(1);
  });

  test('a matrix-js-sdk user invites the echo ghost, the bridge receives the messages, and !echo comes back', async () => {
    const alice = await registerUser(homeserverUrl, uniqueLocalpart('alice'));
    const client = await startSdkClient(homeserverUrl, alice);
    try {
      const { room_id: roomId } = await client.createRoom({ name: 'Echo test', preset: sdk.Preset.PrivateChat, invite: [ECHO] });
      await waitFor(() => client.getRoom(roomId)?.getMember(ECHO)?.membership === sdk.KnownMembership.Join, 30_000, 'the echo ghost to join');
      const hello = await client.sendTextMessage(roomId, 'hello bridge');
      const command = await client.sendTextMessage(roomId, '!echo hi');
      const echo = await waitFor(
        () => timelineOf(client, roomId).find((e) => e.getSender() === ECHO && e.getType() === 'm.room.message'),
        30_000,
        'the echo in the room',
      );
      expect(echo.getContent()).toMatchObject({ msgtype: 'm.text', body: 'hi', 'm.relates_to': { 'm.in_reply_to': { event_id: command.event_id } } });

      // What the example records, read from the Redis `start` runs, as its README says.
      const store = new RedisPluginStore(redis, new RuntimeKeys('patchbay').bridge('example'));
      const records = await waitFor(async () => {
        const list = (await store.readList('received')).map((r) => JSON.parse(r) as ExampleRecord).filter((r) => r.room_id === roomId);
        return list.some((r) => r.event_id === echo.getId()) ? list : null;
      }, 30_000, 'the echo recorded by the bridge');
      const messages = records.filter((r) => r.type === 'm.room.message');
      expect(messages.map((r) => [r.event_id, r.sender, r.body, r.fromBridge])).toEqual([
        [hello.event_id, alice.userId, 'hello bridge', false],
        [command.event_id, alice.userId, '!echo hi', false],
        [echo.getId(), ECHO, 'hi', true],
      ]);
    } finally {
      client.stopClient();
    }
  });

  test('doctor passes every check against the running start', async () => {
    const r = await doctor();
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, -1).map((l) => l.split(':')[0])).toEqual(
      ['✓ config', '✓ bridges', '✓ data_dir', '✓ ports', '✓ ports', '✓ redis', '✓ registration', '✓ homeserver', '✓ as_token', '✓ host', '✓ ping'],
    );
    expect(lines.at(-1)).toBe('All checks passed.');
    expect(r.stdout).toContain(`✓ ping: the homeserver reached the host at ${hostUrl} and back in`);
    expect(r.code).toBe(0);
  });

  test('doctor names an as_token the homeserver does not know', async () => {
    const reg = await readRegistrationFile(registrationPath);
    const wrong = join(cwd, 'wrong-as-token.yaml');
    await writeRegistrationFile(wrong, { ...reg, as_token: 'not-the-token' });
    const r = await doctor({ PB_REGISTRATION: wrong });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^✗ as_token: the homeserver refused the as_token of the registration \(401 M_UNKNOWN_TOKEN/m);
    expect(r.stdout).toMatch(/^✗ ping: the homeserver does not accept this as_token/m);
    expect(r.stdout).toMatch(/^✓ homeserver: /m);
  });

  test('doctor names a homeserver that does not answer', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const r = await doctor({ PB_HS_URL: closed });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`✗ homeserver: ${closed} does not answer (ECONNREFUSED). Fix: start it`);
    expect(r.stdout).toMatch(/^- as_token: not checked: the homeserver is not reachable$/m);
    expect(r.stdout).toMatch(/^- ping: not checked/m);
  });

  test('SIGHUP reloads the homeserver\'s appservices: a changed hs_token shows in doctor, changing it back heals', async () => {
    const original = readFileSync(registrationPath, 'utf8');
    const reloads = start.logCount('homeserver: appservice registrations reloaded');
    const reg = await readRegistrationFile(registrationPath);
    await writeRegistrationFile(registrationPath, { ...reg, hs_token: 'a-token-the-host-does-not-hold' });
    start.signal('SIGHUP');
    await waitFor(() => start.logCount('homeserver: appservice registrations reloaded') === reloads + 1, 20_000, 'the reload');
    const broken = await doctor();
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^✗ ping: the host refused the homeserver's hs_token \(the host answered 403\)/m);

    writeFileSync(registrationPath, original, { mode: 0o600 });
    start.signal('SIGHUP');
    await waitFor(() => start.logCount('homeserver: appservice registrations reloaded') === reloads + 2, 20_000, 'the second reload');
    expect((await doctor()).code).toBe(0);
  });

  test('SIGHUP re-reads the config: an appservice added to app_service_config_files is served', async () => {
    const other = generateRegistration({ id: 'other', url: null, serverName: 'localhost', senderLocalpart: 'otherbot', bridges: [] });
    const otherPath = join(cwd, 'other.yaml');
    await writeRegistrationFile(otherPath, other);
    const whoami = async (): Promise<number> =>
      (await fetch(`${homeserverUrl}/_matrix/client/v3/account/whoami`, { headers: { Authorization: `Bearer ${other.as_token}` } })).status;
    expect(await whoami()).toBe(401);

    const config = yaml.load(CONFIG) as { homeserver: Record<string, unknown> };
    config.homeserver.app_service_config_files = ['other.yaml'];
    writeFileSync(join(cwd, 'patchbay.yaml'), yaml.dump(config));
    const reloads = start.logCount('homeserver: appservice registrations reloaded');
    start.signal('SIGHUP');
    await waitFor(() => start.logCount('homeserver: appservice registrations reloaded') === reloads + 1, 20_000, 'the reload');
    expect(await whoami()).toBe(200);
    // The host's own registration is still served beside it.
    expect((await doctor()).code).toBe(0);
    writeFileSync(join(cwd, 'patchbay.yaml'), CONFIG);
  });

  test('stops on SIGTERM with its Redis; the next start keeps the tokens and updates the url', async () => {
    const before = await readRegistrationFile(registrationPath);
    redis.disconnect();
    expect(await start.stop()).toBe(0);
    expect(start.logCount('stopped')).toBe(1);
    const probe = new Redis({ path: join(dataDir, 'redis', 'redis.sock'), lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => undefined);
    await expect(probe.connect()).rejects.toThrow();
    probe.disconnect();

    let port = await freePort();
    while (`http://127.0.0.1:${port}` === before.url) port = await freePort();
    const again = launch(['start', '-c', 'patchbay.yaml'], { PB_HOST_PORT: String(port) });
    const [, newHomeserverUrl = '', , newHostUrl] = await again.waitForLine(READY);
    expect(newHostUrl).toBe(`http://127.0.0.1:${port}`);
    const after = await readRegistrationFile(registrationPath);
    expect(after.as_token).toBe(before.as_token);
    expect(after.hs_token).toBe(before.hs_token);
    expect(after.url).toBe(newHostUrl);
    const updated = again.logs().find((l) => typeof l.msg === 'string' && l.msg.startsWith('registration: updated'));
    expect(updated?.msg).toBe(
      `registration: updated ${registrationPath} (url ${before.url} -> ${newHostUrl}); tokens kept. A homeserver other than the embedded one must load the file again`,
    );
    // The homeserver loaded the updated file: the ping goes to the new port.
    const check = await doctor({ PB_HS_URL: newHomeserverUrl });
    expect(check.stdout).toContain(`✓ ping: the homeserver reached the host at ${newHostUrl} and back in`);
    expect(await again.stop()).toBe(0);
  });
});

describe('patchbay start, host and worker refuse what they cannot run', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'patchbay-start-errors-'));
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  test('start without redis-server installed says how to install it', async () => {
    writeFileSync(join(cwd, 'c.yaml'), 'data_dir: ./data\nhomeserver:\n  port: 0\nhost:\n  port: 0\n');
    const r = await PatchbayProcess.run(['start', '-c', 'c.yaml'], { cwd, env: { PATH: join(cwd, 'no-such-bin') } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('redis.url: null, so Patchbay runs redis-server itself, but redis-server is not installed. Fix: apt-get install -y redis-server, or set redis.url to a Redis you run');
  });

  test('host and worker need redis.url, and say so', async () => {
    for (const name of ['host', 'worker']) {
      const r = await PatchbayProcess.run([name], { cwd });
      expect(r.code).toBe(78);
      expect(r.stderr).toContain(`redis.url: null means the Redis that \`patchbay start\` runs for itself, which \`patchbay ${name}\` cannot share.`);
    }
  });

  test('worker refuses partitions outside host.partitions', async () => {
    const r = await PatchbayProcess.run(['worker', '--partitions', '0,16'], { cwd, env: { PATCHBAY_CONFIG: '' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--partitions "0,16": write partition numbers from 0 to 15 (host.partitions is 16)');
  });

  test('a second start on the same data_dir is refused while the first runs', async () => {
    writeFileSync(join(cwd, 'd.yaml'), 'data_dir: ./data2\nhomeserver:\n  port: 0\nhost:\n  port: 0\n');
    const first = PatchbayProcess.start(['start', '-c', 'd.yaml'], { cwd });
    try {
      await first.waitForLine(READY);
      const second = await PatchbayProcess.run(['start', '-c', 'd.yaml'], { cwd });
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(`data_dir: patchbay start (pid ${first.pid}) runs on `);
      expect(await first.stop()).toBe(0);
    } finally {
      first.killGroup();
    }
  });
});
