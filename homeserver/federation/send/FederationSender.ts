// Outbound federation: PDUs and EDUs are stored per destination (FederationOutbox) before anything is sent,
// then each destination's DestinationSender delivers them in transactions of at most 50 PDUs and 100 EDUs,
// one in flight per destination. This is the API the rest of the homeserver uses (docs/federation.md).
import type { Logger } from 'pino';
import { canonicalJson } from '../json/CanonicalJson.js';
import type { Pdu } from '../pdu/Pdu.js';
import type { SqlDatabase } from '../../storage/SqlDatabase.js';
import type { FederationClient } from '../transport/FederationClient.js';
import { DestinationSender, type TransactionTransport } from './DestinationSender.js';
import { FederationOutbox, type OutboxItem } from './FederationOutbox.js';
import type { FederationSendMetrics } from './FederationSendMetrics.js';
import { RoomDestinations, serverOf } from './RoomDestinations.js';

export interface FederationSendOptions {
  /** Per transaction; the spec's limits are 50 and 100. */
  maxPdusPerTransaction: number;
  maxEdusPerTransaction: number;
  /** Per destination: beyond these the oldest waiting items are dropped. */
  maxQueuedPdus: number;
  maxQueuedEdus: number;
  retry: { initialMs: number; maxMs: number };
}

export const DEFAULT_SEND_OPTIONS: FederationSendOptions = {
  maxPdusPerTransaction: 50,
  maxEdusPerTransaction: 100,
  maxQueuedPdus: 10_000,
  maxQueuedEdus: 1_000,
  retry: { initialMs: 2_000, maxMs: 600_000 },
};

export interface Edu {
  edu_type: string;
  content: object;
}

export interface LocalEvent {
  pdu: Pdu;
  eventId: string;
  roomId: string;
}

export interface FederationSenderDeps {
  db: SqlDatabase;
  /** This server's name: the `origin` of every transaction, never a destination. */
  origin: string;
  transport: TransactionTransport;
  options: FederationSendOptions;
  metrics: FederationSendMetrics;
  logger: Logger;
  random?: () => number;
}

export class FederationSender {
  readonly destinations: RoomDestinations;
  private readonly outbox: FederationOutbox;
  private readonly senders = new Map<string, DestinationSender>();
  private stopped = false;

  constructor(private readonly deps: FederationSenderDeps) {
    this.outbox = new FederationOutbox(deps.db);
    this.destinations = new RoomDestinations(deps.db, deps.origin);
  }

  /** Resumes every destination with something stored (after a restart: the unacknowledged transaction first). */
  start(): void {
    for (const destination of this.outbox.destinationsWithWork()) this.sender(destination).notifySoon();
  }

  /** Queues a PDU for each destination (this server and duplicates are skipped). */
  enqueuePdu(pdu: Pdu, eventId: string, destinations: string[]): void {
    const body = pduBody(pdu);
    this.store([...new Set(destinations)].map((destination) => ({ destination, kind: 'pdu', eventId, coalesceKey: null, body })));
  }

  /** Queues an EDU; with a coalesce key it replaces the waiting EDU with the same key for that destination. */
  enqueueEdu(destination: string, edu: Edu, coalesceKey: string | null = null): void {
    this.enqueueEdus([destination], edu, coalesceKey);
  }

  enqueueEdus(destinations: string[], edu: Edu, coalesceKey: string | null = null): void {
    const body = canonicalJson({ edu_type: edu.edu_type, content: edu.content });
    this.store([...new Set(destinations)].map((destination) => ({ destination, kind: 'edu', eventId: null, coalesceKey, body })));
  }

  /**
   * Events this server just created and stored: each goes to the servers of the room's joined members, and
   * a membership event also to the server of the user it is about (a kicked or leaving remote user's server
   * must hear of it though that user is no longer joined). All are stored in one SQLite transaction.
   */
  onLocalEvents(events: LocalEvent[]): void {
    const items: OutboxItem[] = [];
    const byRoom = new Map<string, string[]>();
    for (const { pdu, eventId, roomId } of events) {
      let destinations = byRoom.get(roomId);
      if (!destinations) {
        destinations = this.destinations.ofRoom(roomId);
        byRoom.set(roomId, destinations);
      }
      const targets = new Set(destinations);
      if (pdu.type === 'm.room.member' && typeof pdu.state_key === 'string' && pdu.state_key.includes(':')) {
        for (const server of this.destinations.allowedIn(roomId, [serverOf(pdu.state_key)])) targets.add(server);
      }
      if (targets.size === 0) continue;
      const body = pduBody(pdu);
      for (const destination of targets) items.push({ destination, kind: 'pdu', eventId, coalesceKey: null, body });
    }
    this.store(items);
  }

  /** The destination was seen alive (it sent us a request): retry now instead of waiting out the backoff. */
  wake(destination: string): void {
    this.senders.get(destination)?.wakeNow();
  }

  /** What waits for a destination (outbox and unacknowledged transaction). */
  pending(destination: string): { pdus: number; edus: number } {
    return this.senders.get(destination)?.pending ?? this.outbox.counts(destination);
  }

  /** Stops every destination; what is in flight stays stored and is resent with the same txn id next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.senders.values()].map((s) => s.stop()));
  }

  /** Stores the items; after stop() they are still stored (and sent at the next start), just not sent now. */
  private store(items: OutboxItem[]): void {
    const wanted = items.filter((i) => i.destination !== this.deps.origin);
    if (wanted.length === 0) return;
    const { maxQueuedPdus, maxQueuedEdus } = this.deps.options;
    // Senders first: a new one reads its counts from the outbox before these items are in it.
    if (!this.stopped) for (const item of wanted) this.sender(item.destination);
    const result = this.outbox.enqueue(wanted, { pdu: maxQueuedPdus, edu: maxQueuedEdus });
    if (this.stopped) return;
    for (const [destination, { added, dropped }] of result) this.sender(destination).enqueued(added, dropped);
  }

  private sender(destination: string): DestinationSender {
    let sender = this.senders.get(destination);
    if (!sender) {
      const { options } = this.deps;
      sender = new DestinationSender(destination, {
        origin: this.deps.origin,
        outbox: this.outbox,
        transport: this.deps.transport,
        limits: { maxPdus: options.maxPdusPerTransaction, maxEdus: options.maxEdusPerTransaction },
        retry: options.retry,
        metrics: this.deps.metrics,
        logger: this.deps.logger,
        ...(this.deps.random && { random: this.deps.random }),
      });
      this.senders.set(destination, sender);
    }
    return sender;
  }
}

/** PUT /_matrix/federation/v1/send/{txnId} through the signing client. */
export function transactionTransport(client: FederationClient): TransactionTransport {
  return (destination, txnId, body, signal) =>
    client.request(destination, 'PUT', `/_matrix/federation/v1/send/${encodeURIComponent(txnId)}`, body, { signal });
}

/** A PDU as sent: canonical JSON without `unsigned` (local, unsigned data no peer needs). */
function pduBody(pdu: Pdu): string {
  const { unsigned: _unsigned, ...rest } = pdu;
  return canonicalJson(rest);
}
