// The federation bench's part between real homeservers on loopback (federation on, peers mapped to each
// other): how fast a homeserver takes /send transactions of 50 PDUs until stored, how long a remote user's
// join of a room with many state events takes (make_join/send_join), and how long a peer that was down
// while a room's events were made takes to have them all once it is back. The measured receivers (b.test,
// the joining servers) keep SQLite databases as in production; a.test, which makes the rooms and their
// events, keeps its database in memory so that making 10,000 events takes seconds, not minutes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HomeserverOptions } from '../homeserver/contracts.js';
import { loadOrCreateSigningKeys } from '../homeserver/federation/keys/SigningKeyFile.js';
import { eventIdOf } from '../homeserver/federation/pdu/EventHashes.js';
import { hashAndSignEvent } from '../homeserver/federation/pdu/EventSigning.js';
import type { Pdu } from '../homeserver/federation/pdu/Pdu.js';
import { DEFAULT_SEND_OPTIONS } from '../homeserver/federation/send/FederationSender.js';
import { openDatabase } from '../homeserver/storage/Database.js';
import { enc } from '../testkit/MatrixHttpClient.js';
import { rateLimitsWith } from '../testkit/shippedDefaults.js';
import { federationClientAs, loopbackFederationOptions } from '../testkit/testFederation.js';
import { startTestHomeserver, type TestHomeserver } from '../testkit/testHomeserver.js';
import { registerUser, type TestUser } from '../testkit/testUsers.js';
import { waitFor } from '../testkit/waitFor.js';
import { percentile, progress, round, type BenchResult } from './BenchModule.js';

export interface ServerSizes {
  /** PDUs posted to the receiving server, 50 a transaction. */
  received: number;
  /** State events of the room remote users join. */
  roomState: number;
  /** Joins timed, each from a server new to the room. */
  joins: number;
  /** Events made while the peer is down. */
  split: number;
}

/** Throughput and latency are measured, not the limiter: every server takes what comes. */
const UNLIMITED = rateLimitsWith({ enabled: false });
/** A peer that is back is retried within half a second (the shipped backoff grows to 10 minutes). */
const SENDING = { ...DEFAULT_SEND_OPTIONS, maxQueuedPdus: 1_000_000, retry: { initialMs: 100, maxMs: 500 } };

class LoopbackServers {
  /** Each server's `peers` map, filled in as servers start: the options keep the object, not a copy. */
  private readonly peers: Record<string, Record<string, string>> = {};
  private readonly addresses: Record<string, string> = {};

  /** `names`: every server of the run, known up front since each may be at a loopback address. */
  constructor(
    private readonly dir: string,
    private readonly names: string[],
  ) {}

  /** Starts (or restarts, on the same port and database) a homeserver named `name`. */
  async start(name: string, storage: 'sqlite' | 'memory', port = 0): Promise<TestHomeserver> {
    const peers = (this.peers[name] ??= {});
    Object.assign(peers, this.addresses);
    delete peers[name];
    const hs = await startTestHomeserver({
      serverName: name,
      port,
      storage: storage === 'sqlite' ? { kind: 'sqlite', path: join(this.dir, `${name}.sqlite`) } : { kind: 'memory' },
      mediaDir: join(this.dir, `${name}-media`),
      signingKeyFile: join(this.dir, `${name}.key`),
      rateLimits: UNLIMITED,
      federation: { ...loopbackFederationOptions(name, peers, this.names), sending: SENDING },
    } satisfies Partial<HomeserverOptions>);
    // Every server (started before or after) reaches every other at its loopback port.
    this.addresses[name] = `http://127.0.0.1:${hs.port}`;
    for (const [other, map] of Object.entries(this.peers)) if (other !== name) map[name] = this.addresses[name];
    return hs;
  }

  key(name: string): ReturnType<typeof loadOrCreateSigningKeys>['current'] {
    return loadOrCreateSigningKeys(join(this.dir, `${name}.key`)).current;
  }
}

let txn = 0;
const send = (user: TestUser, roomId: string, body: string): Promise<{ event_id: string }> =>
  user.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(roomId)}/send/m.room.message/bench${++txn}`, { body: { msgtype: 'm.text', body } });
const latestEventId = async (user: TestUser, roomId: string): Promise<string | undefined> =>
  (await user.http.ok<{ chunk: Array<{ event_id: string }> }>('GET', `/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 1 } })).chunk[0]?.event_id;

/** Runs `count` calls of `fn`, `parallel` at a time. */
async function inParallel(count: number, parallel: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < count) await fn(next++);
  }));
}

export async function runBetweenServers(sizes: ServerSizes): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-fed2-'));
  const servers = new LoopbackServers(dir, ['a.test', 'b.test', ...Array.from({ length: sizes.joins }, (_, i) => `j${i}.test`)]);
  const running: TestHomeserver[] = [];
  const started = async (name: string, storage: 'sqlite' | 'memory', port?: number): Promise<TestHomeserver> => {
    const hs = await servers.start(name, storage, port);
    running.push(hs);
    return hs;
  };
  try {
    const disk = diskCommitsPerSecond(dir);
    const a = await started('a.test', 'memory');
    let b = await started('b.test', 'sqlite');
    const alice = await registerUser(a.url, 'alice');
    const bob = await registerUser(b.url, 'bob');
    const received = await receiveRate(b, alice, bob, servers, sizes.received);
    const join = await joinLatency(alice, started, sizes.roomState, sizes.joins);

    progress(`split: b.test down while alice makes ${sizes.split} events`);
    const room = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } })).room_id;
    await bob.http.ok('POST', `/join/${enc(room)}`, { query: { server_name: 'a.test' }, body: {} });
    const bPort = b.port;
    await b.stop();
    let last = '';
    const made = performance.now();
    await inParallel(sizes.split, 2, async (i) => {
      const { event_id } = await send(alice, room, `split ${i}`);
      if (i === sizes.split - 1) last = event_id;
    });
    const makeMs = performance.now() - made;
    // The last one sent need not be the last stored; what B must end with is A's latest.
    last = (await latestEventId(alice, room)) ?? last;
    progress('split: b.test back');
    const cpu = process.cpuUsage();
    const back = performance.now();
    b = await started('b.test', 'sqlite', bPort);
    // bob's client reaches the restarted server: same port, same database, same access token.
    await waitFor(async () => (await latestEventId(bob, room)) === last, 900_000, 'B has the last event', 100);
    const catchUpMs = performance.now() - back;
    const used = process.cpuUsage(cpu);
    const onB = await countMessages(bob, room, 'split ');
    if (onB !== sizes.split) throw new Error(`b.test has ${onB} of the ${sizes.split} events`);
    return {
      disk_commits_per_s: disk,
      received,
      join,
      split: {
        events: sizes.split,
        made_per_s: round((sizes.split / makeMs) * 1000, 0),
        catch_up_seconds: round(catchUpMs / 1000),
        catch_up_pdus_per_s: round((sizes.split / catchUpMs) * 1000, 0),
        catch_up_cpu_ms_per_pdu: round((used.user + used.system) / 1000 / sizes.split),
      },
    };
  } finally {
    for (const hs of running) await hs.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** a.test's user's chained messages posted to b.test as a.test would: transactions of 50, one at a time. */
async function receiveRate(b: TestHomeserver, alice: TestUser, bob: TestUser, servers: LoopbackServers, count: number): Promise<BenchResult> {
  progress(`received: ${count} PDUs from a.test to b.test, 50 a transaction`);
  const room = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } })).room_id;
  await bob.http.ok('POST', `/join/${enc(room)}`, { query: { server_name: 'a.test' }, body: {} });
  const latest = (await latestEventId(bob, room))!;
  const asA = federationClientAs('a.test', servers.key('a.test'), { 'b.test': `http://127.0.0.1:${b.port}` });
  const prev = ((await asA.request('b.test', 'GET', `/_matrix/federation/v1/event/${enc(latest)}`)) as { pdus: Pdu[] }).pdus[0]!;
  const state = ((await asA.request('b.test', 'GET', `/_matrix/federation/v1/state/${enc(room)}?event_id=${enc(latest)}`)) as { pdus: Pdu[] }).pdus;
  const pick = (type: string, key = ''): string => eventIdOf('10', state.find((e) => e.type === type && e.state_key === key)!);
  const authEvents = [pick('m.room.create'), pick('m.room.power_levels'), pick('m.room.member', alice.userId)];
  const key = servers.key('a.test');
  let prevId = latest;
  const pdus: Pdu[] = [];
  for (let i = 0; i < count; i++) {
    const pdu = hashAndSignEvent(
      '10',
      {
        room_id: room,
        sender: alice.userId,
        type: 'm.room.message',
        content: { msgtype: 'm.text', body: `received ${i} ${'x'.repeat(100)}` },
        origin_server_ts: Date.now(),
        prev_events: [prevId],
        auth_events: authEvents,
        depth: prev.depth + 1 + i,
      },
      'a.test',
      key,
    ) as unknown as Pdu;
    prevId = eventIdOf('10', pdu);
    pdus.push(pdu);
  }
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < count; i += 50) {
    const answer = (await asA.request('b.test', 'PUT', `/_matrix/federation/v1/send/bench.${i}`, {
      origin: 'a.test',
      origin_server_ts: Date.now(),
      pdus: pdus.slice(i, i + 50),
    })) as { pdus: Record<string, { error?: string }> };
    const failed = Object.entries(answer.pdus).find(([, r]) => r.error !== undefined);
    if (failed) throw new Error(`b.test refused ${failed[0]}: ${failed[1].error}`);
  }
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  if ((await latestEventId(bob, room)) !== prevId) throw new Error('b.test does not show the last PDU received');
  return {
    pdus: count,
    transactions: Math.ceil(count / 50),
    seconds: round(ms / 1000),
    pdus_per_s: round((count / ms) * 1000, 0),
    cpu_ms_per_pdu: round((used.user + used.system) / 1000 / count),
  };
}

/** Joins of a room on a.test with `stateEvents` state events, each by a user of a server new to the room. */
async function joinLatency(alice: TestUser, started: (name: string, storage: 'sqlite') => Promise<TestHomeserver>, stateEvents: number, joins: number): Promise<BenchResult> {
  progress(`join: a room with ${stateEvents} state events, joined from ${joins} servers`);
  const room = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } })).room_id;
  const initial = (await alice.http.ok<unknown[]>('GET', `/rooms/${enc(room)}/state`)).length;
  await inParallel(stateEvents - initial, 4, (i) =>
    alice.http.ok('PUT', `/rooms/${enc(room)}/state/org.patchbay.bench/${i}`, { body: { n: i, text: 'y'.repeat(100) } }),
  );
  const samples: number[] = [];
  for (let i = 0; i < joins; i++) {
    const hs = await started(`j${i}.test`, 'sqlite');
    const user = await registerUser(hs.url, 'joiner');
    const start = performance.now();
    await user.http.ok('POST', `/join/${enc(room)}`, { query: { server_name: 'a.test' }, body: {} });
    samples.push(performance.now() - start);
    const state = await user.http.ok<unknown[]>('GET', `/rooms/${enc(room)}/state`);
    if (state.length !== stateEvents + 1) throw new Error(`j${i}.test has ${state.length} state events, not ${stateEvents + 1}`);
    await hs.stop();
  }
  const sorted = [...samples].sort((x, y) => x - y);
  return {
    state_events: stateEvents,
    joins,
    p50_ms: round(percentile(sorted, 50), 0),
    max_ms: round(sorted[sorted.length - 1]!, 0),
    samples_ms: samples.map((s) => round(s, 0)),
  };
}

/** Messages in the room whose body starts with `prefix`, read back through /messages. */
async function countMessages(user: TestUser, roomId: string, prefix: string): Promise<number> {
  let from: string | undefined;
  let n = 0;
  for (;;) {
    const page = await user.http.ok<{ chunk: Array<{ content: { body?: unknown } }>; end?: string }>('GET', `/rooms/${enc(roomId)}/messages`, {
      query: { dir: 'b', limit: 1000, ...(from !== undefined && { from }) },
    });
    n += page.chunk.filter((e) => typeof e.content.body === 'string' && e.content.body.startsWith(prefix)).length;
    if (page.end === undefined || page.chunk.length === 0) return n;
    from = page.end;
  }
}

/**
 * One-row commits per second in a database opened as the homeserver opens its own (WAL, synchronous =
 * FULL) in the same folder: each waits for its fsync, so this is what the disk allows one writer.
 */
function diskCommitsPerSecond(dir: string): number {
  const db = openDatabase({ kind: 'sqlite', path: join(dir, 'probe.sqlite') });
  try {
    db.exec('CREATE TABLE probe (n INTEGER, text TEXT)');
    const insert = db.prepare('INSERT INTO probe (n, text) VALUES (?, ?)');
    const count = 300;
    const start = performance.now();
    for (let i = 0; i < count; i++) db.transaction(() => insert.run(i, 'z'.repeat(500)))();
    return round((count / (performance.now() - start)) * 1000, 0);
  } finally {
    db.close();
  }
}
