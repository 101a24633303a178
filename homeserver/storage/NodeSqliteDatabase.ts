// SqlDatabase on node:sqlite (built into Node 22.13+; no native build, so no ABI to match). It adapts the
// three places where node:sqlite and better-sqlite3 differ for the homeserver: undefined binds as NULL
// (node:sqlite rejects it), keys a statement does not use are ignored, and errors carry SQLite's result
// code name in `code`. Transactions follow better-sqlite3's: BEGIN/COMMIT, a savepoint when nested.
import { SqliteError, type SqlDatabase, type SqlParams, type SqlRunResult, type SqlStatement } from './SqlDatabase.js';
import { sqliteResultCodeName } from './SqliteResultCodes.js';

// The part of node:sqlite used here, typed locally: @types/node follows Node 20, which has no node:sqlite.
export interface NodeSqliteModule {
  DatabaseSync: new (path: string, options?: { readOnly?: boolean; enableForeignKeyConstraints?: boolean }) => RawDatabase;
}

export interface RawDatabase {
  readonly isTransaction: boolean;
  prepare(sql: string): RawStatement;
  exec(sql: string): void;
  close(): void;
}

export interface RawStatement {
  run(...params: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  setAllowUnknownNamedParameters(enabled: boolean): void;
}

const SAVEPOINT = '"patchbay savepoint"';

export class NodeSqliteDatabase implements SqlDatabase {
  readonly driver = 'node:sqlite';
  private open = true;
  private readonly control: Record<'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollbackTo', RawStatement>;

  constructor(private readonly raw: RawDatabase) {
    this.control = {
      begin: raw.prepare('BEGIN'),
      commit: raw.prepare('COMMIT'),
      rollback: raw.prepare('ROLLBACK'),
      savepoint: raw.prepare(`SAVEPOINT ${SAVEPOINT}`),
      release: raw.prepare(`RELEASE ${SAVEPOINT}`),
      rollbackTo: raw.prepare(`ROLLBACK TO ${SAVEPOINT}`),
    };
  }

  static open(sqlite: NodeSqliteModule, path: string, options: { readonly?: boolean } = {}): NodeSqliteDatabase {
    // SQLite's own default (off), as better-sqlite3 leaves it; openDatabase turns it on explicitly.
    const raw = translated(() => new sqlite.DatabaseSync(path, { readOnly: options.readonly ?? false, enableForeignKeyConstraints: false }));
    try {
      // better-sqlite3 waits up to 5 s for a lock by default; node:sqlite would fail at once.
      raw.exec('PRAGMA busy_timeout = 5000');
      return new NodeSqliteDatabase(raw);
    } catch (err) {
      raw.close();
      throw translate(err);
    }
  }

  prepare(sql: string): SqlStatement {
    return new NodeSqliteStatement(translated(() => this.raw.prepare(sql)));
  }

  exec(sql: string): void {
    translated(() => this.raw.exec(sql));
  }

  pragma(source: string): unknown[] {
    return translated(() => this.raw.prepare(`PRAGMA ${source}`).all());
  }

  transaction<T>(fn: () => T): () => T {
    return () => {
      const nested = this.raw.isTransaction;
      const c = this.control;
      translated(() => (nested ? c.savepoint : c.begin).run());
      try {
        const result = fn();
        if (isPromiseLike(result)) throw new TypeError('Transaction function cannot return a promise');
        (nested ? c.release : c.commit).run();
        return result;
      } catch (err) {
        if (this.raw.isTransaction) {
          if (nested) {
            c.rollbackTo.run();
            c.release.run();
          } else {
            c.rollback.run();
          }
        }
        throw translate(err);
      }
    };
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.raw.close();
  }
}

class NodeSqliteStatement implements SqlStatement {
  constructor(private readonly raw: RawStatement) {
    raw.setAllowUnknownNamedParameters(true);
  }

  run(...params: SqlParams): SqlRunResult {
    try {
      const r = this.raw.run(...bindable(params));
      return { changes: Number(r.changes), lastInsertRowid: r.lastInsertRowid };
    } catch (err) {
      throw translate(err);
    }
  }

  get(...params: SqlParams): unknown {
    try {
      return this.raw.get(...bindable(params));
    } catch (err) {
      throw translate(err);
    }
  }

  all(...params: SqlParams): unknown[] {
    try {
      return this.raw.all(...bindable(params));
    } catch (err) {
      throw translate(err);
    }
  }
}

/** The arguments as node:sqlite takes them: undefined becomes NULL, positional or named. */
function bindable(params: SqlParams): readonly unknown[] {
  const only = params.length === 1 ? params[0] : undefined;
  if (only !== null && typeof only === 'object' && !(only instanceof Uint8Array)) {
    const named = only as Readonly<Record<string, unknown>>;
    for (const key in named) {
      if (named[key] === undefined) return [Object.fromEntries(Object.entries(named).map(([k, v]) => [k, v ?? null]))];
    }
    return params;
  }
  const values = params as readonly unknown[];
  return values.includes(undefined) ? values.map((v) => v ?? null) : values;
}

function isPromiseLike(value: unknown): boolean {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

function translated<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw translate(err);
  }
}

/** node:sqlite reports SQLite errors as `ERR_SQLITE_ERROR` with a numeric `errcode`; name it as better-sqlite3 does. */
function translate(err: unknown): unknown {
  const e = err as { code?: unknown; errcode?: unknown; message?: unknown } | null;
  if (e?.code !== 'ERR_SQLITE_ERROR' || typeof e.errcode !== 'number') return err;
  return new SqliteError(String(e.message), sqliteResultCodeName(e.errcode), { cause: err });
}
