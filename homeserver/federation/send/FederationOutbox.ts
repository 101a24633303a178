// The durable side of outbound federation (tables of migration 13): PDUs and EDUs waiting per destination,
// and the one transaction in flight per destination. A transaction is built and stored, and the rows it
// holds leave the outbox, in one SQLite transaction; it is deleted only once the destination answered 200.
import { randomBytes } from 'node:crypto';
import type { SqlDatabase } from '../../storage/SqlDatabase.js';

export type OutboxKind = 'pdu' | 'edu';

export interface OutboundTransaction {
  destination: string;
  txnId: string;
  /** The canonical JSON body, sent unchanged on every attempt. */
  body: string;
  /** The ids of its PDUs, in body order (for logs: /send answers per event id). */
  eventIds: string[];
  pduCount: number;
  eduCount: number;
}

export interface OutboxItem {
  destination: string;
  kind: OutboxKind;
  /** The PDU's event id; null for an EDU. */
  eventId: string | null;
  /** An EDU with a key replaces the one waiting with the same key (it carries the newer state). */
  coalesceKey: string | null;
  /** Canonical JSON of the PDU or EDU. */
  body: string;
}

export interface QueuedCounts {
  pdus: number;
  edus: number;
}

export interface TransactionLimits {
  maxPdus: number;
  maxEdus: number;
}

export class FederationOutbox {
  private readonly s;

  constructor(private readonly db: SqlDatabase) {
    this.s = {
      deleteKeyed: db.prepare('DELETE FROM federation_outbox WHERE destination = ? AND coalesce_key = ?'),
      insert: db.prepare(
        'INSERT INTO federation_outbox (destination, kind, event_id, coalesce_key, body, created_ts) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      count: db.prepare('SELECT COUNT(*) AS n FROM federation_outbox WHERE destination = ? AND kind = ?'),
      dropOldest: db.prepare(
        `DELETE FROM federation_outbox WHERE seq IN
           (SELECT seq FROM federation_outbox WHERE destination = ? AND kind = ? ORDER BY seq LIMIT ?)`,
      ),
      oldest: db.prepare('SELECT seq, event_id, body FROM federation_outbox WHERE destination = ? AND kind = ? ORDER BY seq LIMIT ?'),
      deleteUpTo: db.prepare('DELETE FROM federation_outbox WHERE destination = ? AND kind = ? AND seq <= ?'),
      inFlight: db.prepare(
        'SELECT txn_id, body, event_ids, pdu_count, edu_count FROM federation_transactions WHERE destination = ?',
      ),
      insertTxn: db.prepare(
        `INSERT INTO federation_transactions (destination, txn_id, body, event_ids, pdu_count, edu_count, created_ts)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      deleteTxn: db.prepare('DELETE FROM federation_transactions WHERE destination = ? AND txn_id = ?'),
      ensureDestination: db.prepare(
        'INSERT OR IGNORE INTO federation_destinations (destination, txn_prefix, next_txn) VALUES (?, ?, 1)',
      ),
      nextTxn: db.prepare('SELECT txn_prefix, next_txn FROM federation_destinations WHERE destination = ?'),
      advanceTxn: db.prepare('UPDATE federation_destinations SET next_txn = next_txn + 1 WHERE destination = ?'),
      addDropped: db.prepare('UPDATE federation_destinations SET dropped_pdus = dropped_pdus + ? WHERE destination = ?'),
      withWork: db.prepare('SELECT destination FROM federation_outbox UNION SELECT destination FROM federation_transactions'),
    };
  }

  /**
   * Stores the items in one SQLite transaction. Beyond `cap` waiting items of a kind for a destination the
   * oldest of that kind are deleted. Returns, per destination, what was added and what was dropped.
   */
  enqueue(items: OutboxItem[], caps: Record<OutboxKind, number>, now = Date.now()): Map<string, { added: QueuedCounts; dropped: QueuedCounts }> {
    const result = new Map<string, { added: QueuedCounts; dropped: QueuedCounts }>();
    this.db.transaction(() => {
      for (const item of items) {
        let entry = result.get(item.destination);
        if (!entry) {
          entry = { added: { pdus: 0, edus: 0 }, dropped: { pdus: 0, edus: 0 } };
          result.set(item.destination, entry);
        }
        const field = item.kind === 'pdu' ? 'pdus' : 'edus';
        const replaced = item.coalesceKey === null ? 0 : this.s.deleteKeyed.run(item.destination, item.coalesceKey).changes;
        this.s.insert.run(item.destination, item.kind, item.eventId, item.coalesceKey, item.body, now);
        entry.added[field] += 1 - replaced;
      }
      for (const [destination, entry] of result) {
        for (const kind of ['pdu', 'edu'] as const) {
          const field = kind === 'pdu' ? 'pdus' : 'edus';
          if (entry.added[field] <= 0) continue;
          const { n } = this.s.count.get(destination, kind) as { n: number };
          if (n <= caps[kind]) continue;
          const excess = n - caps[kind];
          this.s.dropOldest.run(destination, kind, excess);
          entry.dropped[field] += excess;
          if (kind === 'pdu') {
            this.ensureDestination(destination);
            this.s.addDropped.run(excess, destination);
          }
        }
      }
    })();
    return result;
  }

  /** What waits for the destination: in the outbox and in its unacknowledged transaction. */
  counts(destination: string): QueuedCounts {
    const txn = this.inFlight(destination);
    const pdus = (this.s.count.get(destination, 'pdu') as { n: number }).n;
    const edus = (this.s.count.get(destination, 'edu') as { n: number }).n;
    return { pdus: pdus + (txn?.pduCount ?? 0), edus: edus + (txn?.eduCount ?? 0) };
  }

  inFlight(destination: string): OutboundTransaction | null {
    const row = this.s.inFlight.get(destination) as
      | { txn_id: string; body: string; event_ids: string; pdu_count: number; edu_count: number }
      | undefined;
    if (!row) return null;
    return {
      destination,
      txnId: row.txn_id,
      body: row.body,
      eventIds: JSON.parse(row.event_ids) as string[],
      pduCount: row.pdu_count,
      eduCount: row.edu_count,
    };
  }

  /**
   * The transaction to send: the stored one when there is one, else a new one of the oldest waiting PDUs
   * and EDUs (stored, its rows taken out of the outbox), else null when nothing waits.
   */
  next(destination: string, origin: string, limits: TransactionLimits, now = Date.now()): OutboundTransaction | null {
    return this.db.transaction(() => {
      const stored = this.inFlight(destination);
      if (stored) return stored;
      const pdus = this.s.oldest.all(destination, 'pdu', limits.maxPdus) as Array<{ seq: number; event_id: string; body: string }>;
      const edus = this.s.oldest.all(destination, 'edu', limits.maxEdus) as Array<{ seq: number; body: string }>;
      if (pdus.length === 0 && edus.length === 0) return null;
      // Canonical JSON by hand: the parts are canonical already, and the keys are in code-point order.
      const parts = [`"origin":${JSON.stringify(origin)}`, `"origin_server_ts":${now}`, `"pdus":[${pdus.map((p) => p.body).join(',')}]`];
      if (edus.length > 0) parts.unshift(`"edus":[${edus.map((e) => e.body).join(',')}]`);
      const txn: OutboundTransaction = {
        destination,
        txnId: this.allocateTxnId(destination),
        body: `{${parts.join(',')}}`,
        eventIds: pdus.map((p) => p.event_id),
        pduCount: pdus.length,
        eduCount: edus.length,
      };
      this.s.insertTxn.run(destination, txn.txnId, txn.body, JSON.stringify(txn.eventIds), txn.pduCount, txn.eduCount, now);
      if (pdus.length > 0) this.s.deleteUpTo.run(destination, 'pdu', pdus[pdus.length - 1]!.seq);
      if (edus.length > 0) this.s.deleteUpTo.run(destination, 'edu', edus[edus.length - 1]!.seq);
      return txn;
    })();
  }

  /** After a 200 (or a refusal no retry can change): the next transaction may be built. */
  deleteTransaction(destination: string, txnId: string): void {
    this.s.deleteTxn.run(destination, txnId);
  }

  /** Destinations with something stored: their senders resume at start. */
  destinationsWithWork(): string[] {
    return (this.s.withWork.all() as Array<{ destination: string }>).map((r) => r.destination);
  }

  private ensureDestination(destination: string): void {
    this.s.ensureDestination.run(destination, randomBytes(4).toString('hex'));
  }

  private allocateTxnId(destination: string): string {
    this.ensureDestination(destination);
    const row = this.s.nextTxn.get(destination) as { txn_prefix: string; next_txn: number };
    this.s.advanceTxn.run(destination);
    return `${row.txn_prefix}.${row.next_txn}`;
  }
}
