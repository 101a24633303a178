// The appservice side's durable state in the homeserver's SQLite database (tables prefixed `as_`):
// per appservice its stream position and transaction counter, the transactions built but not yet
// acknowledged (full payloads, so a retry or a restart resends exactly what was built), the
// ephemeral events waiting for the next transaction, and, for appservices that take part in
// encryption, how far they were sent to-device messages and device-list changes.
import { randomBytes } from 'node:crypto';
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import type { EphemeralEvent } from '../contracts.js';

export interface StoredTransaction {
  appserviceId: string;
  txnId: string;
  /** The exact JSON body, sent unchanged on every attempt. */
  body: string;
  eventCount: number;
  ephemeralCount: number;
}

export interface PendingEphemeral {
  seq: number;
  event: EphemeralEvent;
}

export interface EncryptionState {
  toDevicePos: number;
  deviceListPos: number;
}

interface StateRow {
  stream_pos: number;
  txn_prefix: string;
  next_txn: number;
}

export class AppserviceStore {
  constructor(private readonly db: SqlDatabase) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS as_state (
        appservice_id TEXT PRIMARY KEY,
        stream_pos INTEGER NOT NULL,
        txn_prefix TEXT NOT NULL,
        next_txn INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS as_transactions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        appservice_id TEXT NOT NULL,
        txn_id TEXT NOT NULL,
        body TEXT NOT NULL,
        event_count INTEGER NOT NULL,
        ephemeral_count INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        UNIQUE (appservice_id, txn_id)
      );
      CREATE TABLE IF NOT EXISTS as_ephemeral (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        appservice_id TEXT NOT NULL,
        coalesce_key TEXT,
        body TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS as_ephemeral_by_as ON as_ephemeral (appservice_id, seq);
      CREATE INDEX IF NOT EXISTS as_ephemeral_by_key ON as_ephemeral (appservice_id, coalesce_key);
      CREATE TABLE IF NOT EXISTS as_encryption_state (
        appservice_id TEXT PRIMARY KEY,
        to_device_pos INTEGER NOT NULL,
        device_list_pos INTEGER NOT NULL
      );
    `);
  }

  /**
   * How far an appservice that takes part in encryption has been sent to-device messages and device-list
   * changes; created on first sight at `headPos`, like the event position.
   */
  ensureEncryptionState(appserviceId: string, headPos: number): EncryptionState {
    this.db
      .prepare('INSERT OR IGNORE INTO as_encryption_state (appservice_id, to_device_pos, device_list_pos) VALUES (?, ?, ?)')
      .run(appserviceId, headPos, headPos);
    const row = this.db
      .prepare('SELECT to_device_pos, device_list_pos FROM as_encryption_state WHERE appservice_id = ?')
      .get(appserviceId) as { to_device_pos: number; device_list_pos: number };
    return { toDevicePos: row.to_device_pos, deviceListPos: row.device_list_pos };
  }

  setEncryptionState(appserviceId: string, state: EncryptionState): void {
    this.db
      .prepare('UPDATE as_encryption_state SET to_device_pos = ?, device_list_pos = ? WHERE appservice_id = ?')
      .run(state.toDevicePos, state.deviceListPos, appserviceId);
  }

  /** Runs `fn` in one SQLite transaction (so a built transaction and the advanced position commit together). */
  atomically<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /**
   * The appservice's state, created on first sight at `headPos`: a newly registered appservice
   * receives what happens from now on, not the server's whole history. The txn id prefix is random
   * per state row, so txn ids never repeat even if the database is recreated (an appservice that
   * remembers old txn ids would otherwise drop new transactions as duplicates).
   */
  ensureState(appserviceId: string, headPos: number): StateRow {
    const select = this.db.prepare('SELECT stream_pos, txn_prefix, next_txn FROM as_state WHERE appservice_id = ?');
    const existing = select.get(appserviceId) as StateRow | undefined;
    if (existing) return existing;
    this.db
      .prepare('INSERT OR IGNORE INTO as_state (appservice_id, stream_pos, txn_prefix, next_txn) VALUES (?, ?, ?, 1)')
      .run(appserviceId, headPos, randomBytes(4).toString('hex'));
    return select.get(appserviceId) as StateRow;
  }

  setStreamPos(appserviceId: string, pos: number): void {
    this.db.prepare('UPDATE as_state SET stream_pos = ? WHERE appservice_id = ?').run(pos, appserviceId);
  }

  /** Takes the next txn id and advances the counter (call inside `atomically`). */
  allocateTxnId(appserviceId: string): string {
    const row = this.db
      .prepare('SELECT txn_prefix, next_txn FROM as_state WHERE appservice_id = ?')
      .get(appserviceId) as Pick<StateRow, 'txn_prefix' | 'next_txn'> | undefined;
    if (!row) throw new Error(`no state for appservice ${appserviceId}`);
    this.db.prepare('UPDATE as_state SET next_txn = next_txn + 1 WHERE appservice_id = ?').run(appserviceId);
    return `${row.txn_prefix}.${row.next_txn}`;
  }

  insertTransaction(txn: StoredTransaction): void {
    this.db
      .prepare(
        `INSERT INTO as_transactions (appservice_id, txn_id, body, event_count, ephemeral_count, created_ms)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(txn.appserviceId, txn.txnId, txn.body, txn.eventCount, txn.ephemeralCount, Date.now());
  }

  /** The oldest transaction not yet acknowledged. */
  oldestTransaction(appserviceId: string): StoredTransaction | null {
    const row = this.db
      .prepare(
        `SELECT txn_id, body, event_count, ephemeral_count FROM as_transactions
         WHERE appservice_id = ? ORDER BY seq LIMIT 1`,
      )
      .get(appserviceId) as { txn_id: string; body: string; event_count: number; ephemeral_count: number } | undefined;
    if (!row) return null;
    return {
      appserviceId,
      txnId: row.txn_id,
      body: row.body,
      eventCount: row.event_count,
      ephemeralCount: row.ephemeral_count,
    };
  }

  countTransactions(appserviceId: string): number {
    const row = this.db
      .prepare('SELECT COUNT(*) AS n FROM as_transactions WHERE appservice_id = ?')
      .get(appserviceId) as { n: number };
    return row.n;
  }

  deleteTransaction(appserviceId: string, txnId: string): void {
    this.db.prepare('DELETE FROM as_transactions WHERE appservice_id = ? AND txn_id = ?').run(appserviceId, txnId);
  }

  /**
   * Queues an ephemeral event. With a coalesce key (typing per room, presence per user) the newer
   * event replaces a waiting older one: both carry the full current state, so the old one is stale.
   * Beyond `cap` waiting events the oldest are dropped; the count dropped is returned for logging.
   */
  enqueueEphemeral(appserviceId: string, event: EphemeralEvent, coalesceKey: string | null, cap: number): number {
    return this.atomically(() => {
      if (coalesceKey !== null) {
        this.db
          .prepare('DELETE FROM as_ephemeral WHERE appservice_id = ? AND coalesce_key = ?')
          .run(appserviceId, coalesceKey);
      }
      this.db
        .prepare('INSERT INTO as_ephemeral (appservice_id, coalesce_key, body) VALUES (?, ?, ?)')
        .run(appserviceId, coalesceKey, JSON.stringify(event));
      const { n } = this.db
        .prepare('SELECT COUNT(*) AS n FROM as_ephemeral WHERE appservice_id = ?')
        .get(appserviceId) as { n: number };
      if (n <= cap) return 0;
      const excess = n - cap;
      this.db
        .prepare(
          `DELETE FROM as_ephemeral WHERE seq IN
             (SELECT seq FROM as_ephemeral WHERE appservice_id = ? ORDER BY seq LIMIT ?)`,
        )
        .run(appserviceId, excess);
      return excess;
    });
  }

  peekEphemeral(appserviceId: string, limit: number): PendingEphemeral[] {
    const rows = this.db
      .prepare('SELECT seq, body FROM as_ephemeral WHERE appservice_id = ? ORDER BY seq LIMIT ?')
      .all(appserviceId, limit) as Array<{ seq: number; body: string }>;
    return rows.map((r) => ({ seq: r.seq, event: JSON.parse(r.body) as EphemeralEvent }));
  }

  deleteEphemeralUpTo(appserviceId: string, seq: number): void {
    this.db.prepare('DELETE FROM as_ephemeral WHERE appservice_id = ? AND seq <= ?').run(appserviceId, seq);
  }

  hasEphemeral(appserviceId: string): boolean {
    return this.db.prepare('SELECT 1 FROM as_ephemeral WHERE appservice_id = ? LIMIT 1').get(appserviceId) !== undefined;
  }
}
