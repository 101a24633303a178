// `npm run bench -- homeserver [--scale F] [--memory]`: the embedded homeserver (SQLite unless --memory), measured from outside
// over HTTP: send->sync latency with a long-polling client, send throughput (one sender, and several
// at once), and how fast it delivers a backlog of events to an appservice.
import { cpus, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { enc } from '../testkit/MatrixHttpClient.js';
import { TestAppservice } from '../test/harness/TestAppservice.js';
import { writeAppserviceRegistration } from '../test/harness/appserviceRegistration.js';
import { rateLimitsWith } from '../testkit/shippedDefaults.js';
import { startTestHomeserver } from '../testkit/testHomeserver.js';
import { registerUser, type TestUser } from '../testkit/testUsers.js';
import { waitFor } from '../testkit/waitFor.js';
import { percentile, progress, round, type BenchResult } from './BenchModule.js';
import { SyncFollower } from './SyncFollower.js';

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const value = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} wants a positive number`);
  return value;
}

let txn = 0;
async function send(user: TestUser, roomId: string, body: string): Promise<void> {
  txn += 1;
  await user.http.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/b${txn}`, { body: { msgtype: 'm.text', body } });
}

export async function run(args: string[]): Promise<BenchResult> {
  const scale = option(args, '--scale', 1);
  const memory = args.includes('--memory');
  const sizes = {
    latencySamples: Math.round(300 * scale),
    sequential: Math.round(1000 * scale),
    concurrentSenders: 4,
    perSender: Math.round(250 * scale),
    appserviceBacklog: Math.round(5000 * scale),
  };
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-'));
  const as = new TestAppservice({ id: 'bench-as', prefix: '_bench_' });
  await as.start();
  const hs = await startTestHomeserver({
    ...(memory ? { storage: { kind: 'memory' as const } } : { storage: { kind: 'sqlite' as const, path: join(dir, 'homeserver.sqlite') }, mediaDir: join(dir, 'media') }),
    appserviceConfigFiles: [await writeAppserviceRegistration(as, dir)],
    // Short backoff so the backlog starts draining as soon as the appservice answers again.
    appserviceRetry: { initialMs: 20, maxMs: 100 },
    // Throughput is measured, not the limiter: the senders may send as fast as the server takes it.
    rateLimits: rateLimitsWith({ sends_per_user: { per_second: 1_000_000, burst: 1_000_000 } }),
  });
  as.homeserverUrl = hs.url;
  try {
    progress(`homeserver on ${hs.url} (${memory ? 'memory storage' : `SQLite in ${dir}`})`);
    const alice = await registerUser(hs.url, 'alice');
    const bob = await registerUser(hs.url, 'bob');
    const senders = await Promise.all(Array.from({ length: sizes.concurrentSenders }, (_, i) => registerUser(hs.url, `sender${i}`)));
    // Room A: people only (no appservice interest). Room B: the appservice's bot is a member.
    const roomA = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat', name: 'bench' } })).room_id;
    for (const user of [bob, ...senders]) await user.http.ok('POST', `/rooms/${enc(roomA)}/join`, { body: {} });
    const roomB = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { name: 'bench bridged', invite: [as.senderUserId] } })).room_id;
    await as.http.ok('POST', `/rooms/${enc(roomB)}/join`, { body: {} });

    // 1. send -> sync latency: one message in flight; bob long-polls /sync as clients do.
    progress(`send->sync latency, ${sizes.latencySamples} samples`);
    const follower = new SyncFollower(bob.http, roomA);
    await follower.start();
    const samples: number[] = [];
    for (let i = -20; i < sizes.latencySamples; i += 1) {
      const body = `lat ${i}`;
      const t0 = performance.now();
      await send(alice, roomA, body);
      const arrived = await follower.arrival(body);
      if (i >= 0) samples.push(arrived - t0); // the first 20 warm up JIT and caches
    }
    await follower.stop();
    samples.sort((a, b) => a - b);

    // 2. Sequential sends: each waits for the previous 200.
    progress(`${sizes.sequential} sequential sends`);
    let t0 = performance.now();
    for (let i = 0; i < sizes.sequential; i += 1) await send(alice, roomA, `seq ${i}`);
    const sequentialPerS = sizes.sequential / ((performance.now() - t0) / 1000);

    // 3. Several senders at once in the same room, each sequential.
    progress(`${sizes.concurrentSenders} concurrent senders x ${sizes.perSender}`);
    t0 = performance.now();
    await Promise.all(senders.map(async (user, s) => {
      for (let i = 0; i < sizes.perSender; i += 1) await send(user, roomA, `con ${s} ${i}`);
    }));
    const concurrentPerS = (sizes.concurrentSenders * sizes.perSender) / ((performance.now() - t0) / 1000);

    // 4. Appservice delivery: a backlog builds while the appservice answers 500, then drains.
    progress(`appservice backlog of ${sizes.appserviceBacklog} events`);
    await waitFor(() => as.events.some((e) => e.room_id === roomB && e.type === 'm.room.member' && e.sender === as.senderUserId), 20_000, 'the bot\'s join at the appservice');
    // Two senders fill the backlog (they are people, so only the bot's membership makes it relevant).
    const backlogSenders = [alice, senders[0]];
    await alice.http.ok('POST', `/rooms/${enc(roomB)}/invite`, { body: { user_id: senders[0].userId } });
    await senders[0].http.ok('POST', `/rooms/${enc(roomB)}/join`, { body: {} });
    as.failNextTransactions(Number.MAX_SAFE_INTEGER);
    const failedBefore = as.attempts.length;
    const perBacklogSender = Math.ceil(sizes.appserviceBacklog / backlogSenders.length);
    await Promise.all(backlogSenders.map(async (user, s) => {
      for (let i = 0; i < perBacklogSender; i += 1) await send(user, roomB, `as ${s} ${i}`);
    }));
    await waitFor(() => as.attempts.length > failedBefore, 20_000, 'a failed delivery attempt');
    const expected = perBacklogSender * backlogSenders.length;
    let delivered = 0;
    let firstAt = 0;
    let firstBatch = 0;
    let lastAt = 0;
    as.onEvents = (events) => {
      const n = events.filter((e) => e.type === 'm.room.message' && String(e.content.body).startsWith('as ')).length;
      if (n === 0) return;
      if (delivered === 0) {
        firstAt = performance.now();
        firstBatch = n;
      }
      delivered += n;
      lastAt = performance.now();
    };
    const transactionsBefore = as.accepted.length;
    as.failNextTransactions(0);
    await waitFor(() => delivered >= expected, 120_000, `${expected} events at the appservice`, 5);
    // Timed from the first accepted transaction, so the retry backoff does not count.
    const deliveryPerS = (delivered - firstBatch) / ((lastAt - firstAt) / 1000);

    return {
      node: process.version,
      cpus: cpus().length,
      storage: memory ? 'memory' : 'sqlite',
      send_to_sync_latency_ms: {
        samples: samples.length,
        p50: round(percentile(samples, 50)),
        p99: round(percentile(samples, 99)),
        max: round(samples[samples.length - 1]),
      },
      messages_per_s: {
        sequential: round(sequentialPerS, 0),
        concurrent: round(concurrentPerS, 0),
        concurrent_senders: sizes.concurrentSenders,
      },
      appservice_delivery: {
        events_per_s: round(deliveryPerS, 0),
        events: delivered,
        transactions: as.accepted.length - transactionsBefore,
      },
    };
  } finally {
    await hs.stop();
    await as.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
