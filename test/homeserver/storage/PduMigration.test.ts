// Schema version 12 on a database from before PDUs: at the next start every old event gets a signed PDU
// with a DAG in stream order (prev_events = the event before it, depth, auth_events from the state at that
// point), keeps its id and is marked legacy; new events chain onto the last one and are ordinary PDUs.
// Checked on the store and on a real homeserver started on the old file.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { EventStore } from '../../../homeserver/events/EventStore.js';
import { upgradeLegacyRooms } from '../../../homeserver/events/LegacyPduUpgrade.js';
import { loadOrCreateSigningKeys } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import { eventIdOf } from '../../../homeserver/federation/pdu/EventHashes.js';
import { checkEventSignatures } from '../../../homeserver/federation/pdu/EventSigning.js';
import { LocalEventSigner } from '../../../homeserver/federation/pdu/LocalEventSigner.js';
import { migrate, openDatabase } from '../../../homeserver/storage/Database.js';
import { CORE_MIGRATIONS } from '../../../homeserver/storage/migrations.js';
import type { SqlDatabase } from '../../../homeserver/storage/SqlDatabase.js';
import { openSqlite } from '../../../homeserver/storage/SqliteDriver.js';
import { StreamCounter } from '../../../homeserver/storage/StreamCounter.js';
import { startTestHomeserver } from '../../harness/index.js';
import { MatrixHttpClient } from '../../../testkit/MatrixHttpClient.js';
import { LegacyEventRows } from './LegacyEventRows.js';

const SERVER = 'old.test';
const ALICE = `@alice:${SERVER}`;
const BOB = `@bob:${SERVER}`;
const quiet = pino({ level: 'silent' });

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pb-pdumig-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A version-11 database with one room as the old store left it: ids by name, in stream order. */
function oldDatabase(path: string, version: '10' | '11'): { roomId: string; ids: Record<string, string> } {
  const db = openSqlite(path);
  migrate(db, 'core', CORE_MIGRATIONS.filter((m) => m.version <= 11));
  const rows = new LegacyEventRows(db);
  const roomId = `!old${version}:${SERVER}`;
  const ids: Record<string, string> = {};
  db.transaction(() => {
    rows.room(roomId, version, ALICE);
    const add = (name: string, ev: Parameters<LegacyEventRows['event']>[0]): void => {
      ids[name] = rows.event(ev).event_id;
    };
    add('create', { room_id: roomId, sender: ALICE, type: 'm.room.create', state_key: '', content: { creator: ALICE, room_version: version } });
    add('join', { room_id: roomId, sender: ALICE, type: 'm.room.member', state_key: ALICE, content: { membership: 'join' } });
    add('power', { room_id: roomId, sender: ALICE, type: 'm.room.power_levels', state_key: '', content: { users: { [ALICE]: 100 } } });
    add('rules', { room_id: roomId, sender: ALICE, type: 'm.room.join_rules', state_key: '', content: { join_rule: 'public' } });
    add('bob', { room_id: roomId, sender: BOB, type: 'm.room.member', state_key: BOB, content: { membership: 'join' } });
    add('message', { room_id: roomId, sender: BOB, type: 'm.room.message', content: { msgtype: 'm.text', body: 'hello', weight: 1.5 } });
    add('secret', { room_id: roomId, sender: BOB, type: 'm.room.message', content: { msgtype: 'm.text', body: 'oops' } });
    add('redaction', { room_id: roomId, sender: BOB, type: 'm.room.redaction', content: version === '11' ? { redacts: ids['secret'] } : {}, redacts: ids['secret']! });
    rows.redact(ids['secret']!, {}, ids['redaction']!);
    // A user with a device and a token, as registration wrote them.
    db.prepare('INSERT INTO users (user_id, created_ts) VALUES (?, ?)').run(BOB, Date.now());
    db.prepare('INSERT INTO devices (user_id, device_id, created_ts) VALUES (?, ?, ?)').run(BOB, 'OLDDEVICE', Date.now());
    db.prepare('INSERT INTO access_tokens (token, user_id, device_id, created_ts) VALUES (?, ?, ?, ?)').run('old-token', BOB, 'OLDDEVICE', Date.now());
  })();
  db.close();
  return { roomId, ids };
}

function legacyRow(db: SqlDatabase, eventId: string): { depth: number; legacy_id: number } | undefined {
  return db.prepare('SELECT depth, legacy_id FROM event_pdus WHERE event_id = ?').get(eventId) as { depth: number; legacy_id: number } | undefined;
}

describe.each(['10', '11'] as const)('migration 12 on an old database, room version %s', (version) => {
  it('gives the old events a signed DAG, keeps their ids, and chains new events onto them', async () => {
    const path = join(dir, `store${version}.sqlite`);
    const { roomId, ids } = oldDatabase(path, version);
    const db = openDatabase({ kind: 'sqlite', path });
    try {
      const signer = new LocalEventSigner(SERVER, loadOrCreateSigningKeys(join(dir, `key${version}`)).current);
      const lookup = async (server: string, keyId: string) => (server === SERVER && keyId === signer.keyId ? signer.publicKey : null);
      expect(legacyRow(db, ids['create']!)).toBeUndefined();
      expect(upgradeLegacyRooms(db, signer, quiet)).toBe(Object.keys(ids).length);
      expect(upgradeLegacyRooms(db, signer, quiet)).toBe(0);

      const events = new EventStore(db, new StreamCounter(db), signer);
      const names = Object.keys(ids);
      names.forEach((name, i) => {
        const pdu = events.pdu(ids[name]!)!;
        expect({ name, prev: pdu.prev_events, depth: pdu.depth }).toEqual({ name, prev: i === 0 ? [] : [ids[names[i - 1]!]], depth: i + 1 });
        expect(legacyRow(db, ids[name]!)).toEqual({ depth: i + 1, legacy_id: 1 });
        expect(eventIdOf(version, pdu)).not.toBe(ids[name]);
      });
      const auth = (name: string): string[] => [...events.pdu(ids[name]!)!.auth_events].sort();
      const sorted = (...n: string[]): string[] => n.map((x) => ids[x]!).sort();
      expect(auth('create')).toEqual([]);
      expect(auth('bob')).toEqual(sorted('create', 'power', 'rules'));
      expect(auth('message')).toEqual(sorted('create', 'power', 'bob'));
      for (const name of names) expect(await checkEventSignatures(version, events.pdu(ids[name]!)!, lookup)).toMatchObject({ outcome: 'valid' });
      // The fraction has no canonical form: that PDU carries the redacted content; clients keep the original.
      expect(events.pdu(ids['message']!)!.content).toEqual({});
      expect(events.event(ids['message']!)!.content).toMatchObject({ body: 'hello' });
      expect(events.pdu(ids['secret']!)!.content).toEqual({});

      const next = events.write(() => events.append({ room_id: roomId, sender: BOB, type: 'm.room.message', content: { msgtype: 'm.text', body: 'new' } }));
      const pdu = events.pdu(next.event_id)!;
      expect({ prev: pdu.prev_events, depth: pdu.depth }).toEqual({ prev: [ids['redaction']], depth: names.length + 1 });
      expect(eventIdOf(version, pdu)).toBe(next.event_id);
      expect(legacyRow(db, next.event_id)).toEqual({ depth: names.length + 1, legacy_id: 0 });
    } finally {
      db.close();
    }
  });
});

describe('a homeserver started on an old database', () => {
  it('serves the old events under their old ids and sends new ones with v4 ids', async () => {
    mkdirSync(join(dir, 'hs'));
    const path = join(dir, 'hs', 'homeserver.sqlite');
    const { roomId, ids } = oldDatabase(path, '10');
    const hs = await startTestHomeserver({ serverName: SERVER, storage: { kind: 'sqlite', path } });
    let sent = '';
    try {
      const bob = new MatrixHttpClient(hs.url, 'old-token');
      const room = encodeURIComponent(roomId);
      const old = (await bob.ok('GET', `/_matrix/client/v3/rooms/${room}/event/${encodeURIComponent(ids['bob']!)}`)) as { event_id: string };
      expect(old.event_id).toBe(ids['bob']);
      sent = ((await bob.ok('PUT', `/_matrix/client/v3/rooms/${room}/send/m.room.message/t1`, { body: { msgtype: 'm.text', body: 'after' } })) as { event_id: string }).event_id;
      expect(sent).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
      const got = (await bob.ok('GET', `/_matrix/client/v3/rooms/${room}/event/${encodeURIComponent(sent)}`)) as { event_id: string; content: unknown };
      expect(got).toMatchObject({ event_id: sent, content: { body: 'after' } });
    } finally {
      await hs.stop();
    }
    // The key the homeserver made beside its database signed both the old events and the new one.
    const signing = loadOrCreateSigningKeys(join(dir, 'hs', 'federation_signing.key')).current;
    const db = openDatabase({ kind: 'sqlite', path });
    try {
      const events = new EventStore(db, new StreamCounter(db), new LocalEventSigner(SERVER, signing));
      const lookup = async (_s: string, keyId: string) => (keyId === signing.keyId ? signing.key.publicKey : null);
      const pdu = events.pdu(sent)!;
      expect(pdu.prev_events).toEqual([ids['redaction']]);
      expect(eventIdOf('10', pdu)).toBe(sent);
      expect(await checkEventSignatures('10', pdu, lookup)).toEqual({ outcome: 'valid' });
      expect(await checkEventSignatures('10', events.pdu(ids['create']!)!, lookup)).toEqual({ outcome: 'valid' });
    } finally {
      db.close();
    }
  });
});
