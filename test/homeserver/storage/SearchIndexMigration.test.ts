// The search index on each SQLite driver: FTS5 is there, and the migration that adds the index takes in
// the messages, names and topics stored before it (not redacted ones, not state with a state key).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SearchIndex } from '../../../homeserver/search/SearchIndex.js';
import { searchTerms } from '../../../homeserver/search/SearchTerms.js';
import { migrate, openDatabase } from '../../../homeserver/storage/Database.js';
import { CORE_MIGRATIONS } from '../../../homeserver/storage/migrations.js';
import { openSqlite, sqliteDriverStatus, SQLITE_DRIVERS } from '../../../homeserver/storage/SqliteDriver.js';
import { LegacyEventRows } from './LegacyEventRows.js';

const ALL_KEYS = ['content.body', 'content.name', 'content.topic'] as const;

for (const driver of SQLITE_DRIVERS) {
  const status = sqliteDriverStatus(driver);
  const title = status.available ? `search index on ${driver}` : `search index on ${driver} (skipped: ${status.reason})`;

  (status.available ? describe : describe.skip)(title, () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'pb-search-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('indexes the events stored before the migration', () => {
      const path = join(dir, 'hs.sqlite');
      const old = openSqlite(path, { driver });
      migrate(old, 'core', CORE_MIGRATIONS.filter((m) => m.version <= 9));
      const events = new LegacyEventRows(old);
      const room = '!r:test';
      let redactedPos = 0;
      old.transaction(() => {
        events.room(room, '10', '@a:test');
        events.event({ room_id: room, sender: '@a:test', type: 'm.room.name', state_key: '', content: { name: 'Otter den' } });
        events.event({ room_id: room, sender: '@a:test', type: 'm.room.topic', state_key: '', content: { topic: 'otter facts' } });
        events.event({ room_id: room, sender: '@a:test', type: 'm.room.topic', state_key: 'x', content: { topic: 'otter elsewhere' } });
        events.event({ room_id: room, sender: '@a:test', type: 'm.room.message', content: { msgtype: 'm.text', body: 'an otter swims' } });
        events.event({ room_id: room, sender: '@a:test', type: 'm.room.message', content: { msgtype: 'm.text', body: 42 } });
        const gone = events.event({ room_id: room, sender: '@a:test', type: 'm.room.message', content: { msgtype: 'm.text', body: 'otter secret' } });
        redactedPos = gone.pos;
        events.redact(gone.event_id, {}, '$redaction');
      })();
      old.close();

      const db = openDatabase({ kind: 'sqlite', path, driver });
      try {
        const index = new SearchIndex(db);
        const hits = index.hits({ match: searchTerms('otter').match!, rooms: [room], keys: [...ALL_KEYS], order: 'recent', before: Infinity, offset: 0, limit: 10 });
        expect(hits).toHaveLength(3);
        expect(hits.map((h) => h.pos)).not.toContain(redactedPos);
        expect(index.hits({ match: searchTerms('den').match!, rooms: [room], keys: ['content.name'], order: 'rank', before: 0, offset: 0, limit: 10 })).toHaveLength(1);
      } finally {
        db.close();
      }
    });

    it('answers a storage: memory homeserver too', () => {
      const db = openDatabase({ kind: 'memory', driver });
      try {
        const index = new SearchIndex(db);
        expect(index.hits({ match: searchTerms('"NEAR(').match!, rooms: [], keys: [...ALL_KEYS], order: 'rank', before: 0, offset: 0, limit: 1 })).toEqual([]);
      } finally {
        db.close();
      }
    });
  });
}
