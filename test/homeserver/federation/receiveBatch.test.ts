// A /send transaction's PDUs are stored together (one commit, a savepoint each), and that changes
// nothing a sender or the rest of the server sees: in a transaction of seven from b.test, a PDU whose
// storing fails half-way (after its event row was written) and a PDU failing auth each get their own
// error entry and lose or undo none of the others; the answer comes only after the accepted PDUs are
// committed (a second connection to A's database sees them when the answer arrives); the events keep
// the transaction's order; the listeners that follow commits count each stored event once and never the
// undone one; an appservice in the room gets each accepted event exactly once.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { register } from 'prom-client';
import { loadOrCreateSigningKeys } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import { eventIdOf } from '../../../homeserver/federation/pdu/EventHashes.js';
import { hashAndSignEvent } from '../../../homeserver/federation/pdu/EventSigning.js';
import type { Pdu } from '../../../homeserver/federation/pdu/Pdu.js';
import type { FederationClient } from '../../../homeserver/federation/transport/FederationClient.js';
import type { SqlDatabase } from '../../../homeserver/storage/SqlDatabase.js';
import { openSqlite } from '../../../homeserver/storage/SqliteDriver.js';
import { enc, federationClientAs, loopbackFederationOptions, registerUser, startTestHomeserver, TestAppservice, waitFor, writeAppserviceRegistration, type TestHomeserver, type TestUser } from '../../harness/index.js';

let dir: string;
let a: TestHomeserver;
let b: TestHomeserver;
let alice: TestUser;
let bob: TestUser;
let roomId: string;
let asB: FederationClient;
let bKey: ReturnType<typeof loadOrCreateSigningKeys>['current'];
const appservice = new TestAppservice({ id: 'a-as', serverName: 'a.test', prefix: '_aas_', protocol: 'aproto' });

// A's storage fails where the test wants it to: redacting the message "batch 1". SQLite triggers are part
// of the database file, so the trigger goes in while A is stopped (A holds its database exclusively).
const FAILING_REDACTION = `CREATE TRIGGER fail_batch_redaction BEFORE UPDATE OF redacted_by ON events
  WHEN json_extract(OLD.content, '$.body') = 'batch 1' BEGIN SELECT RAISE(ABORT, 'injected failure'); END`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pb-fedbatch-'));
  const aPeers: Record<string, string> = {};
  const bPeers: Record<string, string> = {};
  await appservice.start();
  const aOptions = {
    serverName: 'a.test',
    storage: { kind: 'sqlite' as const, path: join(dir, 'a.sqlite') },
    appserviceConfigFiles: [await writeAppserviceRegistration(appservice, dir)],
    signingKeyFile: join(dir, 'a.key'),
    federation: loopbackFederationOptions('a.test', aPeers, ['a.test', 'b.test']),
  };
  await (await startTestHomeserver(aOptions)).stop();
  const db = openSqlite(join(dir, 'a.sqlite'));
  db.exec(FAILING_REDACTION);
  db.close();
  a = await startTestHomeserver(aOptions);
  appservice.homeserverUrl = a.url;
  bPeers['a.test'] = `http://127.0.0.1:${a.port}`;
  b = await startTestHomeserver({ serverName: 'b.test', signingKeyFile: join(dir, 'b.key'), federation: loopbackFederationOptions('b.test', bPeers, ['a.test', 'b.test']) });
  aPeers['b.test'] = `http://127.0.0.1:${b.port}`;
  alice = await registerUser(a.url, 'alice');
  bob = await registerUser(b.url, 'bob');
  bKey = loadOrCreateSigningKeys(join(dir, 'b.key')).current;
  asB = federationClientAs('b.test', bKey, bPeers);
  roomId = (await alice.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', { body: { preset: 'public_chat' } })).room_id;
  await appservice.http.ok('POST', `/_matrix/client/v3/join/${enc(roomId)}`);
  await bob.http.ok('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { query: { server_name: 'a.test' } });
});

/**
 * What a crash at this moment would leave of A's database: its file and write-ahead log copied as they
 * are (only committed transactions count when the copy is opened), read through a connection of its own.
 */
function crashCopy<T>(read: (db: SqlDatabase) => T): T {
  const copy = mkdtempSync(join(dir, 'crash-'));
  for (const suffix of ['', '-wal']) if (existsSync(join(dir, `a.sqlite${suffix}`))) copyFileSync(join(dir, `a.sqlite${suffix}`), join(copy, `a.sqlite${suffix}`));
  const db = openSqlite(join(copy, 'a.sqlite'));
  try {
    return read(db);
  } finally {
    db.close();
  }
}

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop(), appservice.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

type ClientEvent = { event_id: string; type: string; content: Record<string, unknown> };

/** Events of B's users as B would make them, each after `prev`, with the auth events A's current state names. */
async function pdusFromB(): Promise<(sender: string, fields: Record<string, unknown>, prev: { eventId: string; depth: number }) => { eventId: string; depth: number; pdu: Pdu }> {
  const state = await alice.http.ok<Array<{ event_id: string; type: string; state_key: string }>>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/state`);
  const pick = (type: string, key = '') => state.find((e) => e.type === type && e.state_key === key)!.event_id;
  return (sender, fields, prev) => {
    const event = {
      room_id: roomId,
      sender,
      type: 'm.room.message',
      origin_server_ts: Date.now(),
      prev_events: [prev.eventId],
      auth_events: [pick('m.room.create'), pick('m.room.power_levels'), pick('m.room.member', bob.userId)],
      depth: prev.depth + 1,
      ...fields,
    };
    const pdu = hashAndSignEvent('10', event, 'b.test', bKey) as unknown as Pdu;
    return { eventId: eventIdOf('10', pdu), depth: event.depth, pdu };
  };
}

const persisted = async (): Promise<number> => (await register.getSingleMetric('patchbay_hs_events_persisted_total')!.get()).values[0]?.value ?? 0;

describe('the PDUs of one /send transaction, stored together', () => {
  it('keeps each PDU’s result its own, answers after the commit, keeps the order, and tells listeners of each stored event once', async () => {
    const latest = (await alice.http.ok<{ chunk: ClientEvent[] }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 1 } })).chunk[0]!.event_id;
    const latestPdu = ((await asB.request('a.test', 'GET', `/_matrix/federation/v1/event/${enc(latest)}`)) as { pdus: Pdu[] }).pdus[0]!;
    const make = await pdusFromB();
    const say = (body: string, prev: { eventId: string; depth: number }) => make(bob.userId, { content: { msgtype: 'm.text', body } }, prev);
    const m1 = say('batch 1', { eventId: latest, depth: latestPdu.depth });
    const m2 = say('batch 2', m1);
    // Fails half-way: its event row is written, then redacting m1 hits the trigger below.
    const failing = make(bob.userId, { type: 'm.room.redaction', redacts: m1.eventId, content: { redacts: m1.eventId } }, m2);
    // Fails auth: its sender is not in the room.
    const stranger = make('@mallory:b.test', { content: { msgtype: 'm.text', body: 'not a member' } }, m2);
    const m3 = say('batch 3', m2);
    const m4 = say('batch 4', m3);
    const m5 = say('batch 5', m4);

    const before = await persisted();
    const answer = (await asB.request('a.test', 'PUT', `/_matrix/federation/v1/send/batch.${Date.now()}`, {
      origin: 'b.test',
      origin_server_ts: Date.now(),
      pdus: [m1, m2, failing, stranger, m3, m4, m5].map((m) => m.pdu),
    })) as { pdus: Record<string, unknown> };
    // At once, before anything else happens: what is committed when the answer arrives.
    const stored = crashCopy((db) => ({
      timeline: (db.prepare('SELECT event_id FROM events WHERE room_id = ? ORDER BY pos').all(roomId) as Array<{ event_id: string }>).map((r) => r.event_id),
      pdus: db.prepare('SELECT event_id, rejected FROM event_pdus WHERE event_id IN (?, ?)').all(failing.eventId, stranger.eventId),
      first: db.prepare('SELECT redacted_by FROM events WHERE event_id = ?').get(m1.eventId),
    }));
    const counted = (await persisted()) - before;

    expect(answer.pdus).toEqual({
      [m1.eventId]: {},
      [m2.eventId]: {},
      [failing.eventId]: { error: expect.stringContaining('injected failure') },
      [stranger.eventId]: { error: expect.any(String) },
      [m3.eventId]: {},
      [m4.eventId]: {},
      [m5.eventId]: {},
    });
    expect(stored.timeline.slice(-5)).toEqual([m1, m2, m3, m4, m5].map((m) => m.eventId));
    expect(stored.timeline).not.toContain(failing.eventId);
    expect(stored.pdus).toEqual([{ event_id: stranger.eventId, rejected: expect.any(String) }]);
    expect(stored.first).toEqual({ redacted_by: null });
    // The listeners that follow commits (what wakes /sync, pushes, counts events) heard of each stored event once.
    expect(counted).toBe(5);

    const bodies = (await alice.http.ok<{ chunk: ClientEvent[] }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 10 } })).chunk.map((e) => e.content['body']);
    expect(bodies.filter((x) => typeof x === 'string' && x.startsWith('batch'))).toEqual(['batch 5', 'batch 4', 'batch 3', 'batch 2', 'batch 1']);
    const delivered = () => appservice.events.filter((e) => e.room_id === roomId && e.sender !== alice.userId).map((e) => e.event_id);
    await waitFor(() => delivered().includes(m5.eventId), 20_000, 'the last PDU at the appservice');
    expect(delivered().filter((id) => id !== undefined && [m1, m2, failing, stranger, m3, m4, m5].some((m) => m.eventId === id))).toEqual([m1, m2, m3, m4, m5].map((m) => m.eventId));
  });
});
