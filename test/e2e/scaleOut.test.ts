// The split deployment with the real CLI: `patchbay homeserver`, one `patchbay host` and two `patchbay
// worker` processes sharing a Redis (a redis-server the suite runs on a unix socket with AOF, given as
// redis.url), with the example bridge. A user's messages reach the bridge in room order and the echoes
// come back once each, across SIGKILLs of the host, of a worker in the middle of its work, and of Redis.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { ExampleRecord } from '../../bridges/example/index.js';
import { ManagedRedis } from '../../core/redis/ManagedRedis.js';
import { RuntimeKeys } from '../../core/store/BridgeKeyspace.js';
import { RedisPluginStore } from '../../core/store/RedisPluginStore.js';
import { enc, registerUser, uniqueLocalpart, waitFor, type TestUser } from '../harness/index.js';
import { freePort, PatchbayProcess } from './PatchbayProcess.js';

const ECHO = '@example_echo:localhost';
const WEBHOOK_SECRET = 'scale-out-webhook-secret';
const ROOMS = 4;
/** Every ECHO_EVERY-th message of a room is `!echo ...`, which the echo ghost answers. */
const ECHO_EVERY = 25;

interface TimelineEvent {
  event_id: string;
  type: string;
  sender: string;
  content: Record<string, unknown>;
}

interface Health {
  status: string;
  queues: { dead_letters: number; per_partition: Array<{ workers: number; active: number }> } | null;
  workers: { local_partitions: number; unserved_partitions: number[] } | null;
}

describe('homeserver + patchbay host + two patchbay workers sharing a Redis', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'patchbay-scale-out-'));
  const redisServer = new ManagedRedis({ dir: join(cwd, 'redis'), appendOnly: true });
  const processes: PatchbayProcess[] = [];
  let redis: Redis;
  let store: RedisPluginStore;
  let homeserverUrl = '';
  let hostUrl = '';
  let alice: TestUser;
  let host: PatchbayProcess;
  const workers: PatchbayProcess[] = [];

  const launch = (args: string[]): PatchbayProcess => {
    const p = PatchbayProcess.start([...args, '-c', 'patchbay.yaml'], { cwd });
    processes.push(p);
    return p;
  };
  const startHost = async (): Promise<PatchbayProcess> => {
    const p = launch(['host']);
    await p.waitForLine(/^patchbay host: ready\./);
    return p;
  };
  /** Workers serve /health on a port of their own; the URL is in the ready line. */
  const workerHealth = new Map<PatchbayProcess, string>();
  const startWorker = async (): Promise<PatchbayProcess> => {
    const p = launch(['worker', '--http-port', '0']);
    const [, url = ''] = await p.waitForLine(/^patchbay worker: ready\. Partitions shared with the other workers .*, health and metrics (\S+)\.$/);
    workerHealth.set(p, url);
    return p;
  };
  const health = async (url = hostUrl): Promise<Health> => (await (await fetch(`${url}/health`)).json()) as Health;

  beforeAll(async () => {
    await redisServer.start();
    redis = new Redis(redisServer.connection);
    store = new RedisPluginStore(redis, new RuntimeKeys('patchbay').bridge('example'));
    const [hsPort, hostPort] = [await freePort(), await freePort()];
    homeserverUrl = `http://127.0.0.1:${hsPort}`;
    hostUrl = `http://127.0.0.1:${hostPort}`;
    // Fixed ports: the host comes back on its port after a crash, and the homeserver finds it there.
    // host.homeserver_url stays null: host and workers derive it from homeserver.bind/port.
    writeFileSync(
      join(cwd, 'patchbay.yaml'),
      [
        'data_dir: ./data',
        'logging: { level: info }',
        `redis: { url: "unix://${redisServer.socketPath}" }`,
        'homeserver:',
        `  port: ${hsPort}`,
        '  appservice_retry: { initial_ms: 100, max_ms: 1000 }',
        '  app_service_config_files: [ ./data/registration.yaml ]',
        // alice floods 2,000 messages on purpose, beyond what the shipped limit lets one user send.
        '  rate_limits: { sends_per_user: { per_second: 1000, burst: 1000 } }',
        'host:',
        `  port: ${hostPort}`,
        '  partitions: 8',
        // A killed worker's job is taken over in seconds rather than the default 30 s.
        '  job_takeover_ms: 5000',
        'bridges:',
        `  webhook: { enabled: true, secret: ${JSON.stringify(WEBHOOK_SECRET)} }`,
        '',
      ].join('\n'),
    );
    // The host writes the registration the homeserver then loads.
    host = await startHost();
    const homeserver = launch(['homeserver']);
    await homeserver.waitForLine(/^patchbay homeserver: serving /);
    workers.push(await startWorker(), await startWorker());
    alice = await registerUser(homeserverUrl, uniqueLocalpart('alice'));
  });

  afterAll(async () => {
    redis?.disconnect();
    for (const p of processes) p.killGroup();
    await Promise.all(processes.map((p) => p.exited));
    await redisServer.stop();
    rmSync(cwd, { recursive: true, force: true });
  });

  /** Rooms with the echo ghost in them (it joins when invited: the bridge hears the invite). */
  async function roomsWithEcho(count: number): Promise<string[]> {
    const rooms: string[] = [];
    for (let i = 0; i < count; i++) {
      const { room_id } = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'private_chat', invite: [ECHO] } });
      rooms.push(room_id);
    }
    for (const room of rooms) {
      await waitFor(async () => {
        const m = await alice.http.get<{ joined?: Record<string, unknown> }>(`/rooms/${enc(room)}/joined_members`);
        return ECHO in (m.body.joined ?? {});
      }, 30_000, 'the echo ghost to join');
    }
    return rooms;
  }

  /**
   * Sends `perRoom` messages to each room (rooms in parallel, each room in order), calling `onProgress`
   * with the running total; returns each room's event ids in the order the homeserver put them.
   */
  async function sendMessages(rooms: string[], perRoom: number, tag: string, onProgress: (sent: number) => void): Promise<Map<string, string[]>> {
    const sent = new Map<string, string[]>(rooms.map((r) => [r, []]));
    let total = 0;
    await Promise.all(
      rooms.map(async (room, r) => {
        for (let i = 0; i < perRoom; i++) {
          const body = i % ECHO_EVERY === ECHO_EVERY - 1 ? `!echo ${tag} ${r}-${i}` : `${tag} ${r}-${i}`;
          const { event_id } = await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(room)}/send/m.room.message/${tag}-${r}-${i}`, {
            body: { msgtype: 'm.text', body },
          });
          sent.get(room)!.push(event_id);
          onProgress(++total);
        }
      }),
    );
    return sent;
  }

  async function timeline(room: string): Promise<TimelineEvent[]> {
    const events: TimelineEvent[] = [];
    let from: string | undefined;
    for (;;) {
      const page = await alice.http.ok<{ chunk: TimelineEvent[]; end?: string }>('GET', `/rooms/${enc(room)}/messages`, {
        query: { dir: 'f', limit: 1000, ...(from !== undefined && { from }) },
      });
      events.push(...page.chunk);
      if (page.chunk.length === 0 || page.end === undefined) return events;
      from = page.end;
    }
  }

  /** Every message reached the bridge once, each room in order, and each !echo was answered once. */
  const deadLetters = async (): Promise<number> => (await health()).queues?.dead_letters ?? -1;

  /** `deadLettersBefore`: the count before the test, which must not have grown (null: not checked here). */
  async function expectDeliveredInOrderOnce(sent: Map<string, string[]>, deadLettersBefore: number | null): Promise<void> {
    const total = [...sent.values()].reduce((n, ids) => n + ids.length, 0);
    const wanted = new Set([...sent.values()].flat());
    const received = await waitFor(async () => {
      const records = (await store.readList('received')).map((r) => JSON.parse(r) as ExampleRecord).filter((r) => wanted.has(r.event_id));
      return records.length >= total ? records : null;
    }, 240_000, `all ${total} messages at the bridge`);
    expect(received).toHaveLength(total);
    for (const [room, ids] of sent) {
      expect(received.filter((r) => r.room_id === room).map((r) => r.event_id)).toEqual(ids);
    }
    for (const [room, ids] of sent) {
      const commands = new Set(ids.filter((_, i) => i % ECHO_EVERY === ECHO_EVERY - 1));
      const echoes = await waitFor(async () => {
        const found = (await timeline(room)).filter((e) => e.sender === ECHO && e.type === 'm.room.message');
        return found.length >= commands.size ? found : null;
      }, 120_000, `the ${commands.size} echoes in ${room}`);
      const repliedTo = echoes.map((e) => (e.content['m.relates_to'] as { 'm.in_reply_to': { event_id: string } })['m.in_reply_to'].event_id);
      expect(repliedTo.sort()).toEqual([...commands].sort());
    }
    if (deadLettersBefore !== null) expect(await deadLetters()).toBe(deadLettersBefore);
  }

  it('hands 2,000 messages to the bridge in room order, once, with two workers and a SIGKILL of the host', async () => {
    // The two workers divide the partitions between them, and every partition is served.
    await waitFor(async () => {
      const shares = await Promise.all(workers.map(async (w) => (await health(workerHealth.get(w))).workers?.local_partitions));
      return shares.every((n) => n === 4) && (await health()).workers?.unserved_partitions.length === 0;
    }, 20_000, 'four partitions at each worker, none unserved');
    const doctor = await PatchbayProcess.run(['doctor', '-c', 'patchbay.yaml'], { cwd });
    expect(doctor.stdout).toContain(`✓ redis: unix://${redisServer.socketPath} answers (Redis `);
    expect(doctor.stdout).toContain(`✓ host: ${hostUrl}/health ok (role ingest, 8 partitions, all served)`);
    expect(doctor.stdout.trim().split('\n').at(-1)).toBe('All checks passed.');
    expect(doctor.code).toBe(0);

    const rooms = await roomsWithEcho(ROOMS);
    const before = await deadLetters();
    let progress = 0;
    const crash = (async () => {
      await waitFor(() => progress >= 800, 120_000, '800 messages sent');
      await host.crash();
      host = await startHost();
    })();
    const sent = await sendMessages(rooms, 2_000 / ROOMS, 'host', (n) => (progress = n));
    await crash;
    await expectDeliveredInOrderOnce(sent, before);
  }, 300_000);

  it('loses and repeats nothing when a worker is killed with SIGKILL in the middle of an event', async () => {
    // One worker alone (it takes every partition), so the job in hand when it dies is its own. To be sure
    // it has one, it is killed while retrying an event the example fails on purpose (`!fail`: seconds of
    // retries); another worker takes the job over once its lock expires (about 30 s), skips what was done
    // and goes on in order.
    expect(await workers[1]!.stop()).toBe(0);
    const victim = workers[0]!;
    const [failRoom] = await roomsWithEcho(1);
    const rooms = await roomsWithEcho(ROOMS);
    const before = await deadLetters();
    let progress = 0;
    let failing = '';
    const crash = (async () => {
      await waitFor(() => progress >= 300, 120_000, '300 messages sent');
      failing = (await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(failRoom!)}/send/m.room.message/fail-1`, { body: { msgtype: 'm.text', body: '!fail on purpose' } })).event_id;
      await waitFor(() => victim.logCount('failing on purpose') > 0, 30_000, 'the victim failing on purpose');
      await victim.crash();
      workers.splice(0, 2, await startWorker(), await startWorker());
    })();
    const sent = await sendMessages(rooms, 1_000 / ROOMS, 'worker', (n) => (progress = n));
    await crash;
    await expectDeliveredInOrderOnce(sent, null);
    // The failing event was taken over, tried to the end and dead-lettered: the room is told, once.
    const notices = await waitFor(async () => {
      const found = (await timeline(failRoom!)).filter((e) => e.content.msgtype === 'm.notice' && String(e.content.body).includes(failing));
      return found.length > 0 ? found : null;
    }, 60_000, 'the dead-letter notice');
    expect(notices).toHaveLength(1);
    expect(notices[0]!.content.body).toContain('on purpose');
    expect(await deadLetters()).toBe(before + 1);
  }, 300_000);

  it('loses nothing when Redis is killed with SIGKILL and restarted from its append-only file', async () => {
    const rooms = await roomsWithEcho(ROOMS);
    const before = await deadLetters();
    let progress = 0;
    const crash = (async () => {
      await waitFor(() => progress >= 150, 120_000, '150 messages sent');
      await redisServer.kill();
      await redisServer.start();
    })();
    const sent = await sendMessages(rooms, 400 / ROOMS, 'redis', (n) => (progress = n));
    await crash;
    await expectDeliveredInOrderOnce(sent, before);
  }, 300_000);

  it("serves the bridges' HTTP routes on the host, not on the workers; a webhook reaches the room through a worker", async () => {
    const hook = (base: string) =>
      fetch(`${base}/_patchbay/bridges/webhook/hooks/ops`, {
        method: 'POST',
        headers: { authorization: `Bearer ${WEBHOOK_SECRET}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'deploy-1', sender: 'ci', text: 'deployed' }),
      });
    const accepted = await hook(hostUrl);
    expect(accepted.status).toBe(202);
    const { room_id: roomId } = (await accepted.json()) as { room_id: string };
    const worker = workerHealth.get(workers[0]!)!;
    const refused = await hook(worker);
    expect(refused.status).toBe(404);
    expect(await refused.json()).toMatchObject({ errcode: 'M_UNRECOGNIZED' });
    await alice.http.ok('POST', `/join/${enc('#webhook_ops:localhost')}`, { body: {} });
    const said = await waitFor(async () => (await timeline(roomId)).find((e) => e.type === 'm.room.message'), 60_000, 'the webhook message');
    expect(said).toMatchObject({ sender: '@webhook_ci:localhost', content: { body: 'deployed' } });
  }, 120_000);
});
