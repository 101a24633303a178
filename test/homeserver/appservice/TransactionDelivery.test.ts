// Delivery of room events to a real appservice over HTTP: order, batch size, retries of the very same
// transaction, delivery of the stored transaction after a restart, legacy paths, appservices without URL.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite } from '../../../homeserver/storage/SqliteDriver.js';
import { waitFor } from '../../../testkit/waitFor.js';
import { FakeEventStream, makeService, registrationFor, ScriptedAppservice, SERVER, writeRegistration } from './fakes.js';

const ROOM = `!room:${SERVER}`;
const ghost = (id: string, name = 'x'): string => `@_${id}_${name}:${SERVER}`;

/** Event ids of every transaction the appservice answered with 2xx, in order of arrival. */
function acceptedEventIds(as: ScriptedAppservice, okStatus: (path: string, index: number) => boolean = () => true): string[] {
  return as
    .transactions()
    .filter((t, i) => okStatus(t.path, i))
    .flatMap((t) => t.body.events.map((e) => e.event_id));
}

describe('transaction delivery', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-as-txn-'));
  const as = new ScriptedAppservice();

  beforeAll(async () => {
    await as.start();
  });
  afterAll(async () => {
    await as.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends events in stream order, at most 100 per transaction, with the hs_token', async () => {
    as.received.length = 0;
    as.respond = () => ({ status: 200, body: {} });
    const file = writeRegistration(dir, registrationFor('order', as.url));
    const { service, stream } = makeService([file]);
    await service.start();
    try {
      const sent = stream.append(...Array.from({ length: 250 }, () => ({ room_id: ROOM, sender: ghost('order') })));
      // Uninteresting events in between must not count against the 100.
      stream.append(...Array.from({ length: 30 }, () => ({ room_id: `!other:${SERVER}` })));
      const last = stream.append({ room_id: ROOM, sender: ghost('order') });
      const expected = [...sent, ...last].map((e) => e.event_id);
      await waitFor(() => acceptedEventIds(as).length >= expected.length, 10_000, 'all events delivered');
      expect(acceptedEventIds(as)).toEqual(expected);
      const txns = as.transactions();
      expect(txns.length).toBeGreaterThanOrEqual(3);
      for (const t of txns) {
        expect(t.body.events.length).toBeGreaterThan(0);
        expect(t.body.events.length).toBeLessThanOrEqual(100);
        expect(t.path.startsWith('/_matrix/app/v1/transactions/')).toBe(true);
      }
      expect(new Set(txns.map((t) => t.txnId)).size).toBe(txns.length);
      expect(as.received.every((r) => r.authorization === 'Bearer hs-order')).toBe(true);
    } finally {
      await service.stop();
    }
  });

  it('retries a failed transaction with the same txnId and the byte-identical body', async () => {
    as.received.length = 0;
    let failures = 2;
    as.respond = (r) => (r.method === 'PUT' && failures-- > 0 ? { status: 500, body: { errcode: 'M_UNKNOWN' } } : { status: 200, body: {} });
    const file = writeRegistration(dir, registrationFor('retry', as.url));
    const { service, stream } = makeService([file]);
    await service.start();
    try {
      const [first] = stream.append({ room_id: ROOM, sender: ghost('retry'), content: { body: 'retry me' } });
      await waitFor(() => as.transactions().length >= 1, 10_000, 'the first failure');
      // Appended while the first transaction is failing: it must wait behind it, not join it.
      const later = stream.append({ room_id: ROOM, sender: ghost('retry'), content: { body: 'later' } });
      await waitFor(() => as.transactions().some((t) => t.body.events.some((e) => e.event_id === later[0]!.event_id)), 10_000, 'later event');
      const txns = as.transactions();
      const [a1, a2, a3] = txns;
      expect(a1!.txnId).toBe(a2!.txnId);
      expect(a2!.txnId).toBe(a3!.txnId);
      expect(a1!.raw).toBe(a3!.raw);
      expect(a2!.raw).toBe(a3!.raw);
      expect(a3!.body.events.map((e) => e.event_id)).toEqual([first!.event_id]);
      expect(txns[3]!.txnId).not.toBe(a3!.txnId);
      expect(txns.flatMap((t, i) => (i < 2 ? [] : t.body.events.map((e) => e.event_id)))).toEqual([first!.event_id, later[0]!.event_id]);
    } finally {
      await service.stop();
    }
  });

  it('after a restart, delivers the stored transaction first, unchanged', async () => {
    as.received.length = 0;
    as.respond = (r) => (r.method === 'PUT' ? { status: 503, body: { errcode: 'M_UNKNOWN' } } : { status: 200, body: {} });
    const file = writeRegistration(dir, registrationFor('restart', as.url));
    const dbPath = join(dir, 'restart.sqlite');
    const stream = new FakeEventStream();
    // A long backoff, so no retry of the first instance is still on the wire when it stops.
    const first = makeService([file], { dbPath, stream, retry: { initialMs: 60_000, maxMs: 60_000 } });
    await first.service.start();
    const [lost] = stream.append({ room_id: ROOM, sender: ghost('restart'), content: { body: 'must survive' } });
    await waitFor(() => as.transactions().length >= 1, 10_000, 'a failed attempt');
    await first.service.stop();
    first.db.close();
    const failed = as.transactions()[0]!;

    // The stored payload is on disk, not in memory.
    const check = openSqlite(dbPath, { readonly: true });
    const row = check.prepare('SELECT txn_id, body FROM as_transactions').get() as { txn_id: string; body: string };
    check.close();
    expect(row).toEqual({ txn_id: failed.txnId, body: failed.raw });

    as.received.length = 0;
    as.respond = () => ({ status: 200, body: {} });
    const second = makeService([file], { dbPath, stream });
    const [after] = stream.append({ room_id: ROOM, sender: ghost('restart'), content: { body: 'after restart' } });
    await second.service.start();
    try {
      await waitFor(() => acceptedEventIds(as).includes(after!.event_id), 10_000, 'the event sent after the restart');
      const txns = as.transactions();
      expect(txns[0]!.txnId).toBe(failed.txnId);
      expect(txns[0]!.raw).toBe(failed.raw);
      expect(acceptedEventIds(as)).toEqual([lost!.event_id, after!.event_id]);
      expect(new Set(txns.map((t) => t.txnId)).size).toBe(txns.length);
    } finally {
      await second.service.stop();
      second.db.close();
    }
  });

  it('falls back to the legacy path when v1 is unknown, keeping txnId and body', async () => {
    as.received.length = 0;
    as.respond = (r) =>
      r.path.startsWith('/_matrix/app/v1/') ? { status: 404, body: { errcode: 'M_UNRECOGNIZED' } } : { status: 200, body: {} };
    const file = writeRegistration(dir, registrationFor('legacy', as.url));
    const { service, stream } = makeService([file]);
    await service.start();
    try {
      const [one] = stream.append({ room_id: ROOM, sender: ghost('legacy') });
      await waitFor(() => as.transactions().some((t) => !t.path.startsWith('/_matrix')), 10_000, 'a legacy attempt');
      const [v1, legacy] = as.transactions();
      expect(v1!.path.startsWith('/_matrix/app/v1/transactions/')).toBe(true);
      expect(legacy!.path).toBe(`/transactions/${encodeURIComponent(v1!.txnId)}`);
      expect(legacy!.raw).toBe(v1!.raw);
      expect(legacy!.body.events.map((e) => e.event_id)).toEqual([one!.event_id]);
      // Remembered: the next transaction goes to the legacy path directly.
      const [two] = stream.append({ room_id: ROOM, sender: ghost('legacy') });
      await waitFor(() => as.transactions().some((t) => t.body.events.some((e) => e.event_id === two!.event_id)), 10_000, 'second');
      const third = as.transactions()[2]!;
      expect(third.path.startsWith('/transactions/')).toBe(true);
    } finally {
      await service.stop();
    }
  });

  it('sends nothing to an appservice whose url is null, and keeps its position at the head', async () => {
    as.received.length = 0;
    as.respond = () => ({ status: 200, body: {} });
    const files = [writeRegistration(dir, registrationFor('nourl', null)), writeRegistration(dir, registrationFor('withurl', as.url))];
    const { service, stream, db } = makeService(files);
    await service.start();
    try {
      // Interesting to both: each one's ghost sends a message.
      stream.append({ room_id: ROOM, sender: ghost('nourl') }, { room_id: ROOM, sender: ghost('withurl') });
      await waitFor(() => acceptedEventIds(as).length >= 1, 10_000, 'delivery to the appservice with a url');
      await waitFor(
        () => (db.prepare("SELECT stream_pos FROM as_state WHERE appservice_id = 'nourl'").get() as { stream_pos: number }).stream_pos === stream.head(),
        10_000,
        'the url-less position at the head',
      );
      expect(db.prepare("SELECT COUNT(*) AS n FROM as_transactions WHERE appservice_id = 'nourl'").get()).toEqual({ n: 0 });
      expect(as.received.every((r) => r.authorization === 'Bearer hs-withurl')).toBe(true);
    } finally {
      await service.stop();
    }
  });

  it('starts a newly registered appservice at the stream head, not at the beginning of history', async () => {
    as.received.length = 0;
    as.respond = () => ({ status: 200, body: {} });
    const stream = new FakeEventStream();
    const [old] = stream.append({ room_id: ROOM, sender: ghost('fresh') });
    const file = writeRegistration(dir, registrationFor('fresh', as.url));
    const { service } = makeService([file], { stream });
    await service.start();
    try {
      const [now] = stream.append({ room_id: ROOM, sender: ghost('fresh') });
      await waitFor(() => acceptedEventIds(as).includes(now!.event_id), 10_000, 'the new event');
      expect(acceptedEventIds(as)).not.toContain(old!.event_id);
    } finally {
      await service.stop();
    }
  });
});
