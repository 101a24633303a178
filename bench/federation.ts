// `npm run bench -- federation [--pdus N] [--memory] [--received N] [--state N] [--joins N] [--split N]`:
// first the outbound federation queue (SQLite) sending signed PDUs to a local fake peer over HTTP that
// checks every request's X-Matrix signature (testkit/FakeFederationPeer): how fast PDUs are stored, sent
// while the peer is up (one enqueue per PDU, as events are made), and sent in catch-up after N PDUs queued
// while the peer was down. Then real homeservers on loopback (federationServers.ts): PDUs received, join
// latency, catch-up after a split. Everything shares this process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadOrCreateSigningKeys } from '../homeserver/federation/keys/SigningKeyFile.js';
import { Federation } from '../homeserver/federation/Federation.js';
import { eventIdOf } from '../homeserver/federation/pdu/EventHashes.js';
import { hashAndSignEvent } from '../homeserver/federation/pdu/EventSigning.js';
import type { Pdu } from '../homeserver/federation/pdu/Pdu.js';
import { DEFAULT_SEND_OPTIONS, FederationSender, transactionTransport } from '../homeserver/federation/send/FederationSender.js';
import { homeserverMetrics } from '../homeserver/HomeserverMetrics.js';
import { MemoryBlobStore } from '../homeserver/media/BlobStore.js';
import { openDatabase } from '../homeserver/storage/Database.js';
import { FakeFederationPeer } from '../testkit/FakeFederationPeer.js';
import { testFederationOptions } from '../testkit/testFederation.js';
import { waitFor } from '../testkit/waitFor.js';
import { progress, round, type BenchResult } from './BenchModule.js';
import { runBetweenServers } from './federationServers.js';

function option(args: string[], name: string, fallback: number, least = 100): number {
  const i = args.indexOf(name);
  const value = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < least) throw new Error(`${name} wants an integer of at least ${least}`);
  return value;
}

export async function run(args: string[]): Promise<BenchResult> {
  const outbound = await runOutbound(args);
  const between = await runBetweenServers({
    received: option(args, '--received', 3_000),
    roomState: option(args, '--state', 1_000),
    joins: option(args, '--joins', 5, 1),
    split: option(args, '--split', 10_000),
  });
  return { ...outbound, ...between };
}

async function runOutbound(args: string[]): Promise<BenchResult> {
  const count = option(args, '--pdus', 5_000);
  const memory = args.includes('--memory');
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-fed-'));
  const quiet = pino({ level: 'silent' });
  const peer = new FakeFederationPeer('remote.test', {});
  await peer.start();
  const db = openDatabase(memory ? { kind: 'memory' } : { kind: 'sqlite', path: join(dir, 'hs.sqlite') });
  const federation = new Federation(
    'hs.test',
    testFederationOptions('hs.test', { keyValidityMs: 3600_000, peers: { 'remote.test': `http://127.0.0.1:${peer.port}` } }),
    loadOrCreateSigningKeys(join(dir, 'signing.key')),
    quiet,
    { db, blobs: new MemoryBlobStore() },
  );
  // The peer checks signatures with hs.test's key, handed over directly (there is no key server here).
  peer.verifyKey = async (server, keyId) => (server === 'hs.test' && keyId === federation.keys.signing.keyId ? federation.keys.signing.key.publicKey : null);
  const sender = new FederationSender({
    db,
    origin: 'hs.test',
    transport: transactionTransport(federation.client),
    options: { ...DEFAULT_SEND_OPTIONS, retry: { initialMs: 50, maxMs: 200 } },
    metrics: homeserverMetrics().federationSend,
    logger: quiet,
  });
  try {
    progress(`signing ${count * 2} PDUs`);
    const sign = (i: number): { pdu: Pdu; eventId: string } => {
      const pdu = hashAndSignEvent(
        '10',
        {
          room_id: '!bench:hs.test',
          sender: '@alice:hs.test',
          type: 'm.room.message',
          content: { msgtype: 'm.text', body: `message ${i} ${'x'.repeat(100)}` },
          auth_events: ['$create', '$power', '$join'],
          prev_events: [`$prev${i}`],
          depth: i + 1,
          origin_server_ts: Date.now(),
        },
        'hs.test',
        federation.keys.signing,
      ) as Pdu;
      return { pdu, eventId: eventIdOf('10', pdu) };
    };
    const live = Array.from({ length: count }, (_, i) => sign(i));
    const backlog = Array.from({ length: count }, (_, i) => sign(count + i));

    progress(`live: ${count} PDUs enqueued one at a time while the peer is up`);
    let start = performance.now();
    for (const e of live) sender.enqueuePdu(e.pdu, e.eventId, ['remote.test']);
    const enqueueMs = performance.now() - start;
    await waitFor(() => sender.pending('remote.test').pdus === 0, 600_000, 'live PDUs sent', 5);
    const liveMs = performance.now() - start;
    const liveTxns = peer.accepted().length;

    progress(`catch-up: ${count} PDUs queued while the peer is down`);
    await peer.stop();
    for (const e of backlog) sender.enqueuePdu(e.pdu, e.eventId, ['remote.test']);
    await waitFor(() => sender.pending('remote.test').pdus === count && peer.received.length === liveTxns, 10_000, 'queued');
    await peer.start();
    start = performance.now();
    sender.wake('remote.test');
    await waitFor(() => sender.pending('remote.test').pdus === 0, 600_000, 'backlog sent', 5);
    const catchUpMs = performance.now() - start;
    const received = peer.accepted().flatMap((t) => t.body.pdus).length;
    if (received !== count * 2) throw new Error(`the peer received ${received} PDUs, not ${count * 2}`);
    return {
      pdus: count,
      storage: memory ? 'memory' : 'sqlite',
      enqueue_pdus_per_s: round((count / enqueueMs) * 1000, 0),
      live: { seconds: round(liveMs / 1000), pdus_per_s: round((count / liveMs) * 1000, 0), transactions: liveTxns },
      catch_up: {
        seconds: round(catchUpMs / 1000),
        pdus_per_s: round((count / catchUpMs) * 1000, 0),
        transactions: peer.accepted().length - liveTxns,
      },
    };
  } finally {
    await sender.stop();
    db.close();
    await peer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
