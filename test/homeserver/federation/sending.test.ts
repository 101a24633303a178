// The outbound federation queue with a scripted transport: transactions of at most 50 PDUs and 100 EDUs,
// oldest first, one in flight per destination, the same txn id and body on every retry, deletion only
// after a 200, capped backoff, per-PDU errors, the per-destination cap, destinations from memberships,
// shutdown and resumption from storage.
import { afterEach, describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import pino from 'pino';
import { register } from 'prom-client';
import { homeserverMetrics } from '../../../homeserver/HomeserverMetrics.js';
import type { Pdu } from '../../../homeserver/federation/pdu/Pdu.js';
import type { TransactionTransport } from '../../../homeserver/federation/send/DestinationSender.js';
import { DEFAULT_SEND_OPTIONS, FederationSender, type FederationSendOptions } from '../../../homeserver/federation/send/FederationSender.js';
import { FederationRequestError } from '../../../homeserver/federation/transport/FederationClient.js';
import { openDatabase } from '../../../homeserver/storage/Database.js';
import type { SqlDatabase } from '../../../homeserver/storage/SqlDatabase.js';
import { waitFor } from '../../../testkit/waitFor.js';

const ORIGIN = 'hs.test';

interface Call {
  destination: string;
  txnId: string;
  body: { origin: string; origin_server_ts: number; pdus: Pdu[]; edus?: Array<{ edu_type: string; content: Record<string, unknown> }> };
  signal: AbortSignal;
}

/** A transport whose answers the test scripts: each call waits for `answer` (default: 200 {}). */
class ScriptedPeer {
  readonly calls: Call[] = [];
  inFlight = new Map<string, number>();
  maxInFlight = 0;
  answer: (call: Call, index: number) => Promise<unknown> = async () => ({});

  readonly transport: TransactionTransport = async (destination, txnId, body, signal) => {
    const call = { destination, txnId, body: body as Call['body'], signal };
    this.calls.push(call);
    const n = (this.inFlight.get(destination) ?? 0) + 1;
    this.inFlight.set(destination, n);
    this.maxInFlight = Math.max(this.maxInFlight, n);
    try {
      return await this.answer(call, this.calls.length - 1);
    } finally {
      this.inFlight.set(destination, (this.inFlight.get(destination) ?? 1) - 1);
    }
  };

  to(destination: string): Call[] {
    return this.calls.filter((c) => c.destination === destination);
  }
}

const logLines: Array<Record<string, unknown>> = [];
const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  }),
);

const open: Array<{ db: SqlDatabase; sender: FederationSender }> = [];

function makeSender(peer: ScriptedPeer, options: Partial<FederationSendOptions> = {}, db = openDatabase({ kind: 'memory' })): { db: SqlDatabase; sender: FederationSender } {
  const sender = new FederationSender({
    db,
    origin: ORIGIN,
    transport: peer.transport,
    options: { ...DEFAULT_SEND_OPTIONS, retry: { initialMs: 20, maxMs: 80 }, ...options },
    metrics: homeserverMetrics().federationSend,
    logger,
    random: () => 1,
  });
  sender.start();
  open.push({ db, sender });
  return { db, sender };
}

afterEach(async () => {
  for (const { sender, db } of open.splice(0)) {
    await sender.stop();
    db.close();
  }
  logLines.length = 0;
});

let seq = 0;
function pdu(roomId = '!room:hs.test', extra: Partial<Pdu> = {}): { pdu: Pdu; eventId: string } {
  seq++;
  return {
    eventId: `$event${seq}`,
    pdu: {
      room_id: roomId,
      sender: '@alice:hs.test',
      type: 'm.room.message',
      content: { body: `message ${seq}` },
      auth_events: [],
      prev_events: [],
      depth: seq,
      origin_server_ts: 1_700_000_000_000 + seq,
      hashes: { sha256: 'x' },
      signatures: {},
      unsigned: { transaction_id: 'local only' },
      ...extra,
    },
  };
}

const bodies = (calls: Call[]): string[] => calls.flatMap((c) => c.body.pdus.map((p) => p.content['body'] as string));
const outboxRows = (db: SqlDatabase): number => (db.prepare('SELECT COUNT(*) AS n FROM federation_outbox').get() as { n: number }).n;
const txnRows = (db: SqlDatabase): Array<{ destination: string; txn_id: string }> =>
  db.prepare('SELECT destination, txn_id FROM federation_transactions').all() as Array<{ destination: string; txn_id: string }>;
const metric = async (name: string, labels: Record<string, string>): Promise<number> => {
  const m = register.getSingleMetric(name);
  const values = (await m!.get()).values;
  return values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ?? 0;
};

describe('transactions', () => {
  it('carry at most 50 PDUs and 100 EDUs, oldest first, each with a new txn id and without unsigned', async () => {
    const peer = new ScriptedPeer();
    const { sender } = makeSender(peer);
    const events = Array.from({ length: 120 }, () => pdu());
    for (const e of events) sender.enqueuePdu(e.pdu, e.eventId, ['a.test', ORIGIN]);
    for (let i = 0; i < 250; i++) sender.enqueueEdu('a.test', { edu_type: 'm.typing', content: { n: i } });
    await waitFor(() => sender.pending('a.test').pdus === 0 && sender.pending('a.test').edus === 0, 10_000, 'everything sent');
    const calls = peer.to('a.test');
    expect(calls.map((c) => [c.body.pdus.length, c.body.edus?.length ?? 0])).toEqual([
      [50, 100],
      [50, 100],
      [20, 50],
    ]);
    expect(bodies(calls)).toEqual(events.map((e) => e.pdu.content['body']));
    expect(calls.flatMap((c) => c.body.edus!.map((e) => e.content['n']))).toEqual(Array.from({ length: 250 }, (_, i) => i));
    expect(new Set(calls.map((c) => c.txnId)).size).toBe(3);
    expect(calls.every((c) => c.body.origin === ORIGIN && typeof c.body.origin_server_ts === 'number')).toBe(true);
    expect(calls[0]!.body.pdus[0]).not.toHaveProperty('unsigned');
    // Nothing goes to this server itself.
    expect(peer.to(ORIGIN)).toEqual([]);
  });

  it('keep exactly one in flight per destination, and a hanging destination does not hold back another', async () => {
    const peer = new ScriptedPeer();
    const release: Array<() => void> = [];
    peer.answer = (call) =>
      call.destination === 'slow.test' ? new Promise((resolve) => release.push(() => resolve({}))) : Promise.resolve({});
    const { sender } = makeSender(peer);
    sender.enqueuePdu(pdu().pdu, '$first', ['slow.test', 'fast.test']);
    await waitFor(() => peer.to('slow.test').length === 1, 5_000, 'first transaction to slow.test');
    for (let i = 0; i < 5; i++) {
      const e = pdu();
      sender.enqueuePdu(e.pdu, e.eventId, ['slow.test', 'fast.test']);
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => sender.pending('fast.test').pdus === 0, 5_000, 'fast.test served');
    expect(peer.to('slow.test')).toHaveLength(1);
    release.shift()!();
    await waitFor(() => peer.to('slow.test').length === 2, 5_000, 'the second transaction after the first was answered');
    release.shift()!();
    await waitFor(() => sender.pending('slow.test').pdus === 0, 5_000, 'slow.test caught up');
    expect(bodies(peer.to('slow.test'))).toEqual(bodies(peer.to('fast.test')));
    expect(peer.maxInFlight).toBe(1);
  });

  it('retry the same txn id and body after a failure, delete only after a 200, and back off with a cap', async () => {
    const peer = new ScriptedPeer();
    let failures = 6;
    peer.answer = async () => {
      if (failures-- > 0) throw new FederationRequestError('down.test', 'PUT /send answered 500', 500, 'M_UNKNOWN');
      return {};
    };
    const { sender, db } = makeSender(peer);
    const e = pdu();
    sender.enqueuePdu(e.pdu, e.eventId, ['down.test']);
    await waitFor(() => peer.calls.length >= 2, 5_000, 'a retry');
    expect(txnRows(db)).toHaveLength(1); // stored while failing
    expect(await metric('patchbay_hs_federation_backoff_seconds', { destination: 'down.test' })).toBeGreaterThan(0);
    await waitFor(() => sender.pending('down.test').pdus === 0, 10_000, 'delivered after the failures');
    expect(peer.calls).toHaveLength(7);
    expect(new Set(peer.calls.map((c) => c.txnId)).size).toBe(1);
    expect(new Set(peer.calls.map((c) => JSON.stringify(c.body))).size).toBe(1);
    expect(txnRows(db)).toEqual([]);
    expect(await metric('patchbay_hs_federation_backoff_seconds', { destination: 'down.test' })).toBe(0);
    const delays = logLines.filter((l) => l['msg'] === 'federation sender backing off').map((l) => l['delay_ms']);
    // random() = 1: the top of each window, doubling from 20 ms up to the 80 ms cap.
    expect(delays).toEqual([20, 40, 80, 80, 80, 80]);
  });

  it('drop a transaction the destination refuses as malformed (400) and go on with the next', async () => {
    const peer = new ScriptedPeer();
    peer.answer = async (_call, i) => {
      if (i === 0) throw new FederationRequestError('picky.test', 'PUT /send answered 400 M_BAD_JSON', 400, 'M_BAD_JSON');
      return {};
    };
    const { sender } = makeSender(peer, { maxPdusPerTransaction: 1 });
    const [a, b] = [pdu(), pdu()];
    sender.enqueuePdu(a.pdu, a.eventId, ['picky.test']);
    sender.enqueuePdu(b.pdu, b.eventId, ['picky.test']);
    await waitFor(() => sender.pending('picky.test').pdus === 0, 5_000, 'both handled');
    expect(bodies(peer.calls)).toEqual([a.pdu.content['body'], b.pdu.content['body']]);
    expect(logLines.some((l) => l['msg'] === 'destination refused a federation transaction; it is dropped')).toBe(true);
  });

  it('log a PDU the destination rejects in its /send answer, and never send it again', async () => {
    const peer = new ScriptedPeer();
    const e = pdu();
    peer.answer = async () => ({ pdus: { [e.eventId]: { error: 'You are not allowed to send a message to this room.' }, $other: {} } });
    const { sender } = makeSender(peer);
    const before = await metric('patchbay_hs_federation_rejected_pdus_total', { destination: 'strict.test' });
    sender.enqueuePdu(e.pdu, e.eventId, ['strict.test']);
    await waitFor(() => sender.pending('strict.test').pdus === 0, 5_000, 'answered');
    await new Promise((r) => setTimeout(r, 100));
    expect(peer.calls).toHaveLength(1);
    expect(await metric('patchbay_hs_federation_rejected_pdus_total', { destination: 'strict.test' })).toBe(before + 1);
    expect(logLines.find((l) => l['msg'] === 'destination rejected a PDU; it is not sent again')).toMatchObject({
      destination: 'strict.test',
      event_id: e.eventId,
      error: 'You are not allowed to send a message to this room.',
    });
  });
});

describe('a destination that is down', () => {
  it('keeps at most max_queued_pdus, drops the oldest beyond, and catches up oldest first when it is back', async () => {
    const peer = new ScriptedPeer();
    let up = false;
    peer.answer = async () => {
      if (!up) throw new FederationRequestError('away.test', 'connect ECONNREFUSED', null);
      return {};
    };
    const { sender } = makeSender(peer, { maxQueuedPdus: 100, retry: { initialMs: 20, maxMs: 40 } });
    const first = pdu();
    sender.enqueuePdu(first.pdu, first.eventId, ['away.test']);
    await waitFor(() => peer.calls.length >= 1, 5_000, 'the first attempt');
    const events = Array.from({ length: 150 }, () => pdu());
    for (const e of events) sender.enqueuePdu(e.pdu, e.eventId, ['away.test']);
    // The transaction in flight (1 PDU) stays; of the 150 behind it the oldest 50 go.
    expect(sender.pending('away.test').pdus).toBe(101);
    expect(await metric('patchbay_hs_federation_queued', { destination: 'away.test', kind: 'pdu' })).toBe(101);
    expect(await metric('patchbay_hs_federation_dropped_total', { destination: 'away.test', kind: 'pdu' })).toBe(50);
    up = true;
    sender.wake('away.test');
    await waitFor(() => sender.pending('away.test').pdus === 0, 10_000, 'caught up');
    // Each transaction once (the first was attempted several times while the destination was away).
    const transactions = peer.calls.filter((c, i) => peer.calls.findIndex((o) => o.txnId === c.txnId) === i);
    expect(bodies(transactions)).toEqual([first, ...events.slice(50)].map((e) => e.pdu.content['body']));
  });

  it('stops with the transaction in flight stored; a new sender on the same database resends it unchanged', async () => {
    const peer = new ScriptedPeer();
    peer.answer = (call) => new Promise((_resolve, reject) => call.signal.addEventListener('abort', () => reject(new Error('aborted'))));
    const db = openDatabase({ kind: 'memory' });
    const sender = new FederationSender({
      db,
      origin: ORIGIN,
      transport: peer.transport,
      options: DEFAULT_SEND_OPTIONS,
      metrics: homeserverMetrics().federationSend,
      logger,
    });
    sender.start();
    const events = Array.from({ length: 60 }, () => pdu());
    for (const e of events) sender.enqueuePdu(e.pdu, e.eventId, ['later.test']);
    sender.enqueueEdu('later.test', { edu_type: 'm.presence', content: { push: [] } });
    await waitFor(() => peer.calls.length === 1, 5_000, 'the first transaction in flight');
    await sender.stop();
    expect(txnRows(db)).toEqual([{ destination: 'later.test', txn_id: peer.calls[0]!.txnId }]);
    expect(outboxRows(db)).toBe(10);
    // What comes while the homeserver shuts down is still stored, for the next start.
    const late = pdu();
    sender.enqueuePdu(late.pdu, late.eventId, ['later.test']);
    events.push(late);
    expect(outboxRows(db)).toBe(11);

    const again = new ScriptedPeer();
    makeSender(again, {}, db);
    await waitFor(() => again.calls.length === 2 && txnRows(db).length === 0, 5_000, 'resumed after the restart');
    expect(again.calls[0]!.txnId).toBe(peer.calls[0]!.txnId);
    expect(JSON.stringify(again.calls[0]!.body)).toBe(JSON.stringify(peer.calls[0]!.body));
    expect(bodies(again.calls)).toEqual(events.map((e) => e.pdu.content['body']));
    await waitFor(() => txnRows(db).length === 0 && outboxRows(db) === 0, 5_000, 'nothing left stored');
  });
});

describe('destinations', () => {
  const join = (db: SqlDatabase, roomId: string, userId: string, membership = 'join'): void => {
    db.prepare('INSERT INTO memberships (room_id, user_id, membership, event_id, pos) VALUES (?, ?, ?, ?, 1)').run(roomId, userId, membership, `$m${++seq}`);
  };

  it('are the servers of joined members, minus this one; a membership event also goes to its subject', async () => {
    const peer = new ScriptedPeer();
    const { sender, db } = makeSender(peer);
    join(db, '!fed:hs.test', '@alice:hs.test');
    join(db, '!fed:hs.test', '@bob:remote.test');
    join(db, '!fed:hs.test', '@carol:remote.test');
    join(db, '!fed:hs.test', '@dan:other.test:8448');
    join(db, '!fed:hs.test', '@eve:gone.test', 'leave');
    join(db, '!local:hs.test', '@alice:hs.test');
    expect(sender.destinations.ofRoom('!fed:hs.test')).toEqual(['other.test:8448', 'remote.test']);
    expect(sender.destinations.sharingRoomWith('@alice:hs.test')).toEqual(['other.test:8448', 'remote.test']);
    expect(sender.destinations.ofRoom('!local:hs.test')).toEqual([]);

    const message = pdu('!fed:hs.test');
    const kick = pdu('!fed:hs.test', { type: 'm.room.member', state_key: '@eve:gone.test', content: { membership: 'leave' } });
    const local = pdu('!local:hs.test');
    sender.onLocalEvents([
      { ...message, roomId: '!fed:hs.test' },
      { ...kick, roomId: '!fed:hs.test' },
      { ...local, roomId: '!local:hs.test' },
    ]);
    await waitFor(() => peer.calls.length === 3, 5_000, 'three destinations');
    const byDestination = Object.fromEntries(peer.calls.map((c) => [c.destination, bodies([c])]));
    expect(byDestination).toEqual({
      'remote.test': [message.pdu.content['body'], undefined],
      'other.test:8448': [message.pdu.content['body'], undefined],
      'gone.test': [undefined],
    });
    expect(outboxRows(db)).toBe(0);
  });

  it('called inside the transaction that stores the events: queued with them, or not at all when it rolls back', async () => {
    const peer = new ScriptedPeer();
    const { sender, db } = makeSender(peer);
    join(db, '!fed:hs.test', '@bob:remote.test');
    const kept = pdu('!fed:hs.test');
    const lost = pdu('!fed:hs.test');
    db.transaction(() => sender.onLocalEvents([{ ...kept, roomId: '!fed:hs.test' }]))();
    expect(() =>
      db.transaction(() => {
        sender.onLocalEvents([{ ...lost, roomId: '!fed:hs.test' }]);
        throw new Error('the event failed to store');
      })(),
    ).toThrow('the event failed to store');
    await waitFor(() => peer.calls.length === 1 && sender.pending('remote.test').pdus === 0, 5_000, 'the kept event sent');
    await new Promise((r) => setTimeout(r, 100));
    expect(bodies(peer.calls)).toEqual([kept.pdu.content['body']]);
    expect(outboxRows(db)).toBe(0);
  });

  it('a room without remote members queues nothing', async () => {
    const peer = new ScriptedPeer();
    const { sender, db } = makeSender(peer);
    join(db, '!local:hs.test', '@alice:hs.test');
    sender.onLocalEvents([{ ...pdu('!local:hs.test'), roomId: '!local:hs.test' }]);
    expect(outboxRows(db)).toBe(0);
    expect((db.prepare('SELECT COUNT(*) AS n FROM federation_destinations').get() as { n: number }).n).toBe(0);
  });
});
