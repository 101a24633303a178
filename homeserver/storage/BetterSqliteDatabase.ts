// SqlDatabase on better-sqlite3, the driver for Nodes without a usable node:sqlite (Node 20). The seam
// has better-sqlite3's shape, so this only delegates; its statements are handed out as they are.
import type BetterSqlite3 from 'better-sqlite3';
import type { SqlDatabase, SqlStatement } from './SqlDatabase.js';

export type BetterSqliteModule = typeof BetterSqlite3;

export class BetterSqliteDatabase implements SqlDatabase {
  readonly driver = 'better-sqlite3';

  private constructor(private readonly raw: BetterSqlite3.Database) {}

  static open(module: BetterSqliteModule, path: string, options: { readonly?: boolean } = {}): BetterSqliteDatabase {
    return new BetterSqliteDatabase(new module(path, { readonly: options.readonly ?? false }));
  }

  prepare(sql: string): SqlStatement {
    return this.raw.prepare(sql);
  }

  exec(sql: string): void {
    this.raw.exec(sql);
  }

  pragma(source: string): unknown[] {
    return this.raw.pragma(source) as unknown[];
  }

  transaction<T>(fn: () => T): () => T {
    return this.raw.transaction(fn);
  }

  close(): void {
    this.raw.close();
  }
}
