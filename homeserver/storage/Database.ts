// Opens the homeserver's SQLite database (a WAL file, or ':memory:') and brings its schema up to date.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseInUseError } from './DatabaseInUseError.js';
import { CORE_MIGRATIONS, type Migration } from './migrations.js';
import { sqliteErrorCode, type SqlDatabase } from './SqlDatabase.js';
import { openSqlite, type DriverChoice } from './SqliteDriver.js';

/** `driver` overrides PATCHBAY_SQLITE_DRIVER (tests open the same store on each driver). */
export type StorageOptions = ({ kind: 'sqlite'; path: string } | { kind: 'memory' }) & { driver?: DriverChoice };

export function openDatabase(storage: StorageOptions): SqlDatabase {
  if (storage.kind === 'sqlite') mkdirSync(dirname(storage.path), { recursive: true });
  const db = openSqlite(storage.kind === 'sqlite' ? storage.path : ':memory:', storage.driver === undefined ? {} : { driver: storage.driver });
  try {
    if (storage.kind === 'sqlite') {
      db.pragma('busy_timeout = 2000');
      // One writer: the stream counter lives in this process, so a second process on the same file would
      // hand out the same positions. An exclusive lock makes the second one fail at start instead.
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      // FULL: a commit is on disk before the client hears about it, so an acknowledged send survives
      // not only kill -9 of the process but a power cut as well.
      db.pragma('synchronous = FULL');
    }
    db.pragma('foreign_keys = ON');
    migrate(db, 'core', CORE_MIGRATIONS);
  } catch (err) {
    db.close();
    const code = sqliteErrorCode(err) ?? '';
    if (storage.kind === 'sqlite' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))) {
      throw new DatabaseInUseError(storage.path);
    }
    throw err;
  }
  return db;
}

/**
 * Applies the migrations a component has not yet seen, each in its own transaction. Versions are kept
 * per component in `schema_versions` so that other parts sharing this database (the appservice side)
 * can version their own tables the same way.
 */
export function migrate(db: SqlDatabase, component: string, migrations: Migration[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)');
  const row = db.prepare('SELECT version FROM schema_versions WHERE component = ?').get(component) as
    | { version: number }
    | undefined;
  let current = row?.version ?? 0;
  const known = Math.max(0, ...migrations.map((m) => m.version));
  if (current > known) {
    throw new Error(`database schema of '${component}' is version ${current}, newer than this code knows (${known})`);
  }
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare(
        'INSERT INTO schema_versions (component, version) VALUES (?, ?) ON CONFLICT(component) DO UPDATE SET version = excluded.version',
      ).run(component, m.version);
    })();
    current = m.version;
  }
}
