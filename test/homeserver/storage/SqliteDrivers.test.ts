// Each SQLite driver this Node can load behaves as the homeserver's stores rely on: the storage settings,
// one process per file, named and positional parameters, transactions (nested ones in a savepoint),
// SQLite's error codes, and a real homeserver on top. A driver this Node cannot load is skipped, with the
// reason in the suite's title (node:sqlite needs Node 22.16+, better-sqlite3 a build for this Node's ABI).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../../homeserver/storage/Database.js';
import { sqliteErrorCode, type SqlDatabase } from '../../../homeserver/storage/SqlDatabase.js';
import { openSqlite, requestedSqliteDriver, sqliteDriverStatus, SQLITE_DRIVERS } from '../../../homeserver/storage/SqliteDriver.js';
import { sqliteResultCodeName } from '../../../homeserver/storage/SqliteResultCodes.js';
import { bodies, CoreClient, type Event } from '../core/coreHarness.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

for (const driver of SQLITE_DRIVERS) {
  const status = sqliteDriverStatus(driver);
  const title = status.available ? `SQLite driver ${driver}` : `SQLite driver ${driver} (skipped: ${status.reason})`;

  (status.available ? describe : describe.skip)(title, () => {
    let dir: string;
    let db: SqlDatabase;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'pb-sqlite-'));
      db = openSqlite(':memory:', { driver });
      db.exec(`CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
               CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent(id), note TEXT);
               PRAGMA foreign_keys = ON;`);
    });
    afterAll(() => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('opens the homeserver database in WAL, synchronous=FULL, exclusive locking, with foreign keys', () => {
      const hs = openDatabase({ kind: 'sqlite', path: join(dir, 'settings.sqlite'), driver });
      try {
        expect(hs.driver).toBe(driver);
        expect(hs.pragma('journal_mode')).toEqual([{ journal_mode: 'wal' }]);
        expect(hs.pragma('synchronous')).toEqual([{ synchronous: 2 }]);
        expect(hs.pragma('locking_mode')).toEqual([{ locking_mode: 'exclusive' }]);
        expect(hs.pragma('foreign_keys')).toEqual([{ foreign_keys: 1 }]);
      } finally {
        hs.close();
      }
    });

    it('refuses a second opener of the same file with a clear message', () => {
      const path = join(dir, 'locked.sqlite');
      const first = openDatabase({ kind: 'sqlite', path, driver });
      try {
        expect(() => openDatabase({ kind: 'sqlite', path, driver })).toThrow(`homeserver database ${path} is in use by another process`);
      } finally {
        first.close();
      }
      openDatabase({ kind: 'sqlite', path, driver }).close();
    });

    it('binds named parameters from a row with extra keys, undefined as NULL, and reports changes', () => {
      const insert = db.prepare('INSERT INTO parent (id, name) VALUES (@id, @name)');
      expect(insert.run({ id: 1, name: 'one', unused: { not: 'bindable' } })).toEqual({ changes: 1, lastInsertRowid: 1 });
      expect(insert.run({ id: 2n, name: 'two' }).changes).toBe(1);
      const child = db.prepare('INSERT INTO child (parent, note) VALUES (?, ?)');
      child.run(1, undefined);
      child.run(2, 'note');
      expect(db.prepare('SELECT parent, note FROM child ORDER BY id').all()).toEqual([
        { parent: 1, note: null },
        { parent: 2, note: 'note' },
      ]);
      expect(db.prepare('UPDATE child SET note = ? WHERE parent > ?').run('x', 0).changes).toBe(2);
      expect(db.prepare('SELECT name FROM parent WHERE id = ?').get(3)).toBeUndefined();
      const row = db.prepare('SELECT COUNT(*) AS n, MAX(id) AS top FROM parent').get() as { n: unknown; top: unknown };
      expect([typeof row.n, typeof row.top]).toEqual(['number', 'number']);
    });

    it('names SQLite errors by their result code, as callers test them', () => {
      const dup = thrown(() => db.prepare('INSERT INTO parent (id, name) VALUES (?, ?)').run(10, 'one'));
      expect(sqliteErrorCode(dup)).toBe('SQLITE_CONSTRAINT_UNIQUE');
      expect((dup as Error).message).toBe('UNIQUE constraint failed: parent.name');
      const orphan = thrown(() => db.prepare('INSERT INTO child (parent) VALUES (?)').run(99));
      expect(sqliteErrorCode(orphan)).toBe('SQLITE_CONSTRAINT_FOREIGNKEY');
      expect(sqliteErrorCode(thrown(() => db.prepare('SELECT nope FROM parent')))).toBe('SQLITE_ERROR');
    });

    it('commits a transaction, rolls it back on a throw, and runs a nested one in a savepoint', () => {
      const add = db.prepare('INSERT INTO parent (name) VALUES (?)');
      const names = (): string[] => (db.prepare("SELECT name FROM parent WHERE name LIKE 't-%' ORDER BY id").all() as Array<{ name: string }>).map((r) => r.name);

      expect(db.transaction(() => add.run('t-committed').changes)()).toBe(1);
      expect(() =>
        db.transaction(() => {
          add.run('t-rolled-back');
          throw new Error('boom');
        })(),
      ).toThrow('boom');
      db.transaction(() => {
        add.run('t-outer');
        expect(() =>
          db.transaction(() => {
            add.run('t-inner');
            throw new Error('inner');
          })(),
        ).toThrow('inner');
        db.transaction(() => add.run('t-inner-kept'))();
      })();
      expect(names()).toEqual(['t-committed', 't-outer', 't-inner-kept']);

      // An async function would commit before its awaits ran: refused, and nothing of it is kept.
      expect(() =>
        db.transaction(() => {
          add.run('t-async');
          return Promise.resolve();
        })(),
      ).toThrow('Transaction function cannot return a promise');
      expect(names()).not.toContain('t-async');
      // A constraint failure inside rolls the whole transaction back and keeps its code.
      const err = thrown(() =>
        db.transaction(() => {
          add.run('t-before-dup');
          add.run('t-committed');
        })(),
      );
      expect(sqliteErrorCode(err)).toBe('SQLITE_CONSTRAINT_UNIQUE');
      expect(names()).not.toContain('t-before-dup');
    });

    it('runs the homeserver: rooms and messages survive a restart', async () => {
      const storage = { kind: 'sqlite' as const, path: join(dir, 'hs.sqlite'), driver };
      let c = await CoreClient.start({ storage, mediaDir: join(dir, 'media') });
      let token: string;
      let roomId: string;
      try {
        const alice = await c.register('alice');
        token = alice.token;
        roomId = await c.createRoom(alice, { name: `on ${driver}` });
        await c.send(alice, roomId, 'stored');
      } finally {
        await c.stop();
      }
      c = await CoreClient.start({ storage, mediaDir: join(dir, 'media') });
      try {
        const msgs = await c.ok('GET', `/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=5`, { token });
        expect(bodies(msgs['chunk'] as Event[])).toEqual(['stored']);
      } finally {
        await c.stop();
      }
    });
  });
}

describe('choosing the SQLite driver', () => {
  it('reads PATCHBAY_SQLITE_DRIVER and names it when the value is wrong', () => {
    expect(requestedSqliteDriver({})).toBe('auto');
    expect(requestedSqliteDriver({ PATCHBAY_SQLITE_DRIVER: 'better-sqlite3' })).toBe('better-sqlite3');
    expect(() => requestedSqliteDriver({ PATCHBAY_SQLITE_DRIVER: 'sqlite3' })).toThrow(
      'PATCHBAY_SQLITE_DRIVER=sqlite3 is not a SQLite driver: use auto, node:sqlite or better-sqlite3',
    );
  });

  it('refuses a driver this Node cannot load, saying why', () => {
    for (const driver of SQLITE_DRIVERS) {
      const status = sqliteDriverStatus(driver);
      if (status.available) expect(openSqlite(':memory:', { driver }).driver).toBe(driver);
      else expect(() => openSqlite(':memory:', { driver })).toThrow(status.reason);
    }
  });

  it('names extended result codes as better-sqlite3 does', () => {
    expect([5, 517, 1555, 2067, 787, 101].map(sqliteResultCodeName)).toEqual([
      'SQLITE_BUSY',
      'SQLITE_BUSY_SNAPSHOT',
      'SQLITE_CONSTRAINT_PRIMARYKEY',
      'SQLITE_CONSTRAINT_UNIQUE',
      'SQLITE_CONSTRAINT_FOREIGNKEY',
      'SQLITE_DONE',
    ]);
  });
});
