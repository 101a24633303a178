// The SQLite surface the homeserver's stores use. Two drivers implement it (SqliteDriver.ts picks one):
// Node's built-in node:sqlite and the native better-sqlite3 module. The shape is better-sqlite3's, so a
// store reads the same on either; the node:sqlite driver adapts where the two differ.

export type SqliteDriverName = 'node:sqlite' | 'better-sqlite3';

/** One bound value. `undefined` binds as NULL on both drivers (as better-sqlite3 always did). */
export type SqlValue = string | number | bigint | Uint8Array | null | undefined;

/**
 * Positional values (`?`), or one object of named values (`@name` in SQL, `name` as the key). Keys
 * the statement does not use are ignored, so a row object can be passed whole.
 */
export type SqlParams = SqlValue[] | [Readonly<Record<string, unknown>>];

export interface SqlRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface SqlStatement {
  run(...params: SqlParams): SqlRunResult;
  /** The first row (a plain object keyed by column name), or undefined. Integers read as numbers. */
  get(...params: SqlParams): unknown;
  all(...params: SqlParams): unknown[];
}

export interface SqlDatabase {
  /** Which driver opened this database (shown in the homeserver's startup log). */
  readonly driver: SqliteDriverName;
  prepare(sql: string): SqlStatement;
  /** Runs one or more statements that bind nothing. */
  exec(sql: string): void;
  /**
   * Wraps `fn` as one transaction: BEGIN, COMMIT, ROLLBACK when it throws. Called inside another
   * transaction it runs in a savepoint, so an inner failure undoes only the inner part. `fn` must be
   * synchronous: a returned promise throws (and rolls back), as SQLite cannot hold a transaction open
   * across awaits here.
   */
  transaction<T>(fn: () => T): () => T;
  /** `PRAGMA <source>`; returns the rows it produces. */
  pragma(source: string): unknown[];
  /** Closes the database; closing twice is a no-op. */
  close(): void;
}

/**
 * An error from SQLite itself. `code` is its extended result code name on both drivers
 * (`SQLITE_BUSY`, `SQLITE_CONSTRAINT_UNIQUE`, ...), which is what callers test.
 */
export class SqliteError extends Error {
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SqliteError';
  }
}

/** SQLite's result code name of an error from either driver, or undefined for other errors. */
export function sqliteErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}
