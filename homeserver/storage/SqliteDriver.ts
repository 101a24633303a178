// Picks the SQLite driver for this Node at run time. node:sqlite when the running Node has it with what
// the seam needs (Node 22.16+), else better-sqlite3. Each is loaded only when it is tried, so a
// better-sqlite3 built for another Node's ABI is never touched where node:sqlite serves.
// PATCHBAY_SQLITE_DRIVER=node:sqlite|better-sqlite3 forces one (e.g. to compare them in a benchmark).
import { createRequire } from 'node:module';
import { BetterSqliteDatabase, type BetterSqliteModule } from './BetterSqliteDatabase.js';
import { NodeSqliteDatabase, type NodeSqliteModule } from './NodeSqliteDatabase.js';
import type { SqlDatabase, SqliteDriverName } from './SqlDatabase.js';

export const SQLITE_DRIVERS: readonly SqliteDriverName[] = ['node:sqlite', 'better-sqlite3'];
export const SQLITE_DRIVER_ENV = 'PATCHBAY_SQLITE_DRIVER';

export type DriverChoice = SqliteDriverName | 'auto';

export type DriverStatus = { driver: SqliteDriverName; available: true } | { driver: SqliteDriverName; available: false; reason: string };

type Opener = (path: string, options: { readonly?: boolean }) => SqlDatabase;
type Loaded = { open: Opener } | { reason: string };

const loaded = new Map<SqliteDriverName, Loaded>();

function loadNodeSqlite(): Loaded {
  const getBuiltin = process.getBuiltinModule as ((id: string) => unknown) | undefined;
  // Node 22 prints an ExperimentalWarning when node:sqlite loads (24 no longer does); it is chosen on purpose.
  const module = typeof getBuiltin === 'function' ? (withoutSqliteWarning(() => getBuiltin('node:sqlite')) as NodeSqliteModule | undefined) : undefined;
  if (module === undefined) return { reason: `Node ${process.version} has no node:sqlite (built in from Node 22.13)` };
  const probe = new module.DatabaseSync(':memory:');
  try {
    const missing = [
      typeof probe.isTransaction === 'boolean' ? null : 'DatabaseSync.isTransaction',
      typeof probe.prepare('SELECT 1').setAllowUnknownNamedParameters === 'function' ? null : 'StatementSync.setAllowUnknownNamedParameters',
    ].filter((m) => m !== null);
    if (missing.length > 0) return { reason: `node:sqlite in Node ${process.version} lacks ${missing.join(' and ')} (Node 22.16 and newer have them)` };
  } finally {
    probe.close();
  }
  return { open: (path, options) => NodeSqliteDatabase.open(module, path, options) };
}

function loadBetterSqlite(): Loaded {
  try {
    const module = createRequire(import.meta.url)('better-sqlite3') as BetterSqliteModule;
    // The native part loads with the first database; open one so an ABI mismatch shows here.
    new module(':memory:').close();
    return { open: (path, options) => BetterSqliteDatabase.open(module, path, options) };
  } catch (err) {
    return { reason: `better-sqlite3 does not load in Node ${process.version}: ${loadFailure(err)}` };
  }
}

/** Why a native module failed to load, in one line. */
function loadFailure(err: unknown): string {
  const message = String((err as { message?: unknown } | null)?.message ?? err).replace(/\s+/g, ' ');
  const abi = /NODE_MODULE_VERSION (\d+)\. This version of Node\.js requires NODE_MODULE_VERSION (\d+)/.exec(message);
  if (abi) return `it was built for another Node (NODE_MODULE_VERSION ${abi[1]}; this Node needs ${abi[2]})`;
  return message.replace(/ Require stack:.*$/, '');
}

function withoutSqliteWarning<T>(fn: () => T): T {
  const emitWarning = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]): void {
    if (String(warning).startsWith('SQLite is an experimental feature')) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    return fn();
  } finally {
    process.emitWarning = emitWarning;
  }
}

function load(driver: SqliteDriverName): Loaded {
  let result = loaded.get(driver);
  if (result === undefined) {
    result = driver === 'node:sqlite' ? loadNodeSqlite() : loadBetterSqlite();
    loaded.set(driver, result);
  }
  return result;
}

/** Whether `driver` works in this Node, and why not when it does not. */
export function sqliteDriverStatus(driver: SqliteDriverName): DriverStatus {
  const result = load(driver);
  return 'open' in result ? { driver, available: true } : { driver, available: false, reason: result.reason };
}

/** The driver asked for in PATCHBAY_SQLITE_DRIVER (`auto` when unset); throws naming the variable when invalid. */
export function requestedSqliteDriver(env: NodeJS.ProcessEnv = process.env): DriverChoice {
  const value = env[SQLITE_DRIVER_ENV];
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if ((SQLITE_DRIVERS as readonly string[]).includes(value)) return value as SqliteDriverName;
  throw new Error(`${SQLITE_DRIVER_ENV}=${value} is not a SQLite driver: use auto, ${SQLITE_DRIVERS.join(' or ')} (or unset it)`);
}

/** Opens a SQLite file (or ':memory:') with the chosen driver (PATCHBAY_SQLITE_DRIVER, else auto). */
export function openSqlite(path: string, options: { driver?: DriverChoice; readonly?: boolean } = {}): SqlDatabase {
  return resolve(options.driver ?? requestedSqliteDriver())(path, options);
}

/** The first driver of `choice` that loads; throws with every reason and the fix when none does. */
function resolve(choice: DriverChoice): Opener {
  const candidates = choice === 'auto' ? SQLITE_DRIVERS : [choice];
  const reasons: string[] = [];
  for (const driver of candidates) {
    const result = load(driver);
    if ('open' in result) return result.open;
    reasons.push(result.reason);
  }
  const forced = choice === 'auto' ? '' : ` (${SQLITE_DRIVER_ENV}=${choice}; unset it to let Patchbay choose)`;
  throw new Error(
    `no SQLite driver works here${forced}: ${reasons.join('; ')}. ` +
      'Run Patchbay on Node 22.16 or newer (node:sqlite is built in), or build better-sqlite3 for this Node: node scripts/bootstrap.mjs run',
  );
}
