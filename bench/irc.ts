// IRC bridge benchmark, through a real ngircd: latency (p50/p99) both ways at a fixed rate, throughput
// both ways, heap bytes per puppet at 1,000 puppets, and the time 1,000 puppets take to come back after
// ngircd is killed and restarted. The Matrix side is the in-process fake BridgeContext (the plugin's
// own cost, not the homeserver's); the end-to-end numbers through the real host are a separate bench.
import v8 from 'node:v8';
import vm from 'node:vm';
import { pino } from 'pino';
import type { EventContext, MatrixEvent } from '../core/plugin-api/index.js';
import { IrcBridge } from '../bridges/irc/IrcBridge.js';
import type { IrcPluginConfig } from '../bridges/irc/IrcConfig.js';
import { normalizeNetworks } from '../bridges/irc/IrcConfig.js';
import { IrcNetwork } from '../bridges/irc/IrcNetwork.js';
import { createFakeContext } from '../testkit/index.js';
import { ircDescriptor } from '../bridges/irc/IrcBridge.js';
import { IrcTestClient } from '../bridges/irc/test/IrcTestClient.js';
import { NgircdServer } from '../bridges/irc/test/NgircdServer.js';
import { RecordingSink } from '../bridges/irc/test/RecordingSink.js';
import { percentile, progress, round } from './BenchModule.js';

const silent = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function gc(): void {
  v8.setFlagsFromString('--expose-gc');
  const collect = vm.runInNewContext('gc') as () => void;
  collect();
  collect();
}

function stats(samples: number[]): Record<string, number> {
  const sorted = [...samples].sort((a, b) => a - b);
  return { n: sorted.length, p50_ms: round(percentile(sorted, 50)), p99_ms: round(percentile(sorted, 99)), max_ms: round(sorted[sorted.length - 1] ?? NaN) };
}

function eventContext(): EventContext {
  return { attempt: 1, relation: {}, fromBridge: false, logger: silent };
}

let eventCounter = 0;
function textEvent(roomId: string, sender: string, body: string): MatrixEvent {
  return { event_id: `$bench${++eventCounter}`, room_id: roomId, sender, type: 'm.room.message', content: { msgtype: 'm.text', body }, origin_server_ts: Date.now() };
}

async function messaging(server: NgircdServer, args: { rate: number; seconds: number; burst: number; users: number }): Promise<Record<string, unknown>> {
  const config: IrcPluginConfig = {
    networks: {
      bench: {
        host: server.host,
        port: server.port,
        limits: { lines_per_second: 10_000, burst: 1000, connect_concurrency: 16, connect_interval_ms: 0 },
        quit_debounce: { delay_ms: 0 },
      },
    },
  };
  const fake = createFakeContext<IrcPluginConfig>(ircDescriptor, config, { serverName: 'bench.test' });
  const bridge = new IrcBridge();
  await bridge.start(fake.ctx);
  const watcher = new IrcTestClient(server.host, server.port, 'watcher');
  watcher.keepLines = false;
  await watcher.connect();
  await watcher.join('#bench');
  await bridge.onAliasQuery('#irc_bench_#bench:bench.test');
  const roomId = fake.hs.aliases.get('#irc_bench_#bench:bench.test') as string;
  await fake.hs.waitFor(() => fake.hs.room(roomId).members.get('@irc_bench_watcher:bench.test') === 'join', 30_000, 'watcher ghost');
  const users = Array.from({ length: args.users }, (_, i) => `@bench${i}:bench.test`);
  for (const u of users) fake.hs.profiles.set(u, { displayName: u.slice(1, u.indexOf(':')) });
  // Warm up: every puppet connected and joined.
  await Promise.all(users.map((u, i) => bridge.onMatrixEvent(textEvent(roomId, u, `warmup ${i}`), eventContext())));
  let warm = 0;
  watcher.onLine = (l) => {
    if (l.command === 'PRIVMSG' && l.params[1]?.startsWith('warmup ')) warm++;
  };
  while (warm < users.length) await sleep(20);

  // Latency Matrix -> IRC at a fixed rate.
  const count = args.rate * args.seconds;
  progress(`latency: ${count} messages each way at ${args.rate}/s`);
  const sentAt = new Map<string, number>();
  const toIrc: number[] = [];
  watcher.onLine = (l) => {
    const t = sentAt.get(l.params[1] ?? '');
    if (l.command === 'PRIVMSG' && t !== undefined) toIrc.push(performance.now() - t);
  };
  for (let i = 0; i < count; i++) {
    const body = `m2i ${i}`;
    sentAt.set(body, performance.now());
    void bridge.onMatrixEvent(textEvent(roomId, users[i % users.length] as string, body), eventContext());
    await sleep(1000 / args.rate);
  }
  while (toIrc.length < count) await sleep(20);

  // Latency IRC -> Matrix at the same rate.
  const toMatrix: number[] = [];
  fake.hs.onEvent = (e) => {
    const t = sentAt.get(String(e.content.body));
    if (e.type === 'm.room.message' && t !== undefined) toMatrix.push(performance.now() - t);
  };
  for (let i = 0; i < count; i++) {
    const body = `i2m ${i}`;
    sentAt.set(body, performance.now());
    watcher.send(`PRIVMSG #bench :${body}`);
    await sleep(1000 / args.rate);
  }
  while (toMatrix.length < count) await sleep(20);

  // Throughput: a burst each way, timed until the last message arrives.
  progress(`throughput: ${args.burst} messages each way`);
  let received = 0;
  watcher.onLine = (l) => {
    if (l.command === 'PRIVMSG' && l.params[1]?.startsWith('tp ')) received++;
  };
  let started = performance.now();
  for (let i = 0; i < args.burst; i++) void bridge.onMatrixEvent(textEvent(roomId, users[i % users.length] as string, `tp ${i}`), eventContext());
  while (received < args.burst) await sleep(5);
  const m2iRate = args.burst / ((performance.now() - started) / 1000);
  let arrived = 0;
  fake.hs.onEvent = (e) => {
    if (String(e.content.body).startsWith('tq ')) arrived++;
  };
  started = performance.now();
  for (let i = 0; i < args.burst; i++) watcher.send(`PRIVMSG #bench :tq ${i}`);
  while (arrived < args.burst) await sleep(5);
  const i2mRate = args.burst / ((performance.now() - started) / 1000);

  await bridge.stop();
  watcher.close();
  return {
    matrix_to_irc_latency: stats(toIrc),
    irc_to_matrix_latency: stats(toMatrix),
    latency_rate_per_s: args.rate,
    matrix_to_irc_msgs_per_s: round(m2iRate, 0),
    irc_to_matrix_msgs_per_s: round(i2mRate, 0),
    throughput_messages: args.burst,
    puppets_sending: args.users,
  };
}

async function puppets(server: NgircdServer, count: number): Promise<Record<string, unknown>> {
  const [settings] = normalizeNetworks({
    networks: {
      bench: {
        host: server.host,
        port: server.port,
        limits: { lines_per_second: 100, burst: 10, connect_concurrency: 50, connect_interval_ms: 0, reconnect_initial_ms: 200, reconnect_max_ms: 2000 },
        puppets: { max_connections: count + 10 },
        quit_debounce: { delay_ms: 0 },
      },
    },
  });
  const network = new IrcNetwork(settings!, new RecordingSink(), silent);
  await network.start();
  await network.addChannel('#crowd');
  gc();
  const before = process.memoryUsage().heapUsed;
  progress(`connecting ${count} puppets`);
  let started = performance.now();
  await Promise.all(Array.from({ length: count }, (_, i) => network.puppetFor(`@p${i}:bench.test`, `Puppet ${i}`, null, '#crowd')));
  const connectSeconds = (performance.now() - started) / 1000;
  gc();
  const heapPerPuppet = (process.memoryUsage().heapUsed - before) / count;

  progress(`killing and restarting ngircd with ${count} puppets connected`);
  await server.kill();
  await server.start();
  started = performance.now();
  const all = network.puppets.all();
  for (;;) {
    const back = all.filter((p) => p.connection.state === 'registered' && p.connection.isJoined('#crowd')).length;
    if (back === all.length) break;
    if (performance.now() - started > 300_000) throw new Error(`only ${back} of ${all.length} puppets came back`);
    await sleep(50);
  }
  const restoreSeconds = (performance.now() - started) / 1000;
  await network.stop();
  return {
    puppets: count,
    heap_bytes_per_puppet: Math.round(heapPerPuppet),
    connect_all_s: round(connectSeconds),
    restore_after_restart_s: round(restoreSeconds),
    connect_concurrency: settings!.connectConcurrency,
    reconnect_initial_ms: settings!.reconnect.initialDelayMs,
  };
}

export async function run(args: string[] = []): Promise<Record<string, unknown>> {
  const puppetCount = Number(args[0] ?? 1000);
  const server = new NgircdServer();
  await server.start();
  try {
    const msg = await messaging(server, { rate: 50, seconds: 6, burst: 2000, users: 10 });
    const scale = await puppets(server, puppetCount);
    return { ircd: 'ngircd (local, loopback)', ...msg, ...scale };
  } finally {
    await server.stop();
  }
}
