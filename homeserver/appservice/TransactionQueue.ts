// Builds an appservice's next transaction and stores it BEFORE anything is sent: the events it holds
// (at most 100, in stream order, filtered by interest), the ephemeral events waiting for it (at most
// 100), for appservices in encryption their to-device messages (at most 100), device-list changes and key
// counts (EncryptionTraffic.ts), and the advanced stream positions commit in one SQLite transaction. A stored transaction is
// resent unchanged until the appservice acknowledges it, across retries and restarts.
import type { ClientEvent, EncryptionStream, EphemeralEvent, EventStream } from '../contracts.js';
import { coversUser, type Appservice } from './Appservice.js';
import type { AppserviceStore, StoredTransaction } from './AppserviceStore.js';
import { EncryptionTraffic } from './EncryptionTraffic.js';
import { InterestMatcher } from './InterestMatcher.js';

export interface TransactionLimits {
  maxEvents: number;
  maxEphemeral: number;
  maxToDevice: number;
  /** Stream events examined per build before yielding (a long run of uninteresting events). */
  scanLimit: number;
}

export const DEFAULT_TRANSACTION_LIMITS: TransactionLimits = { maxEvents: 100, maxEphemeral: 100, maxToDevice: 100, scanLimit: 2000 };

export type NextTransaction =
  | { kind: 'send'; txn: StoredTransaction }
  /** Nothing to send yet; `more` when the scan stopped at its limit and should continue soon. */
  | { kind: 'idle'; more: boolean };

export class TransactionQueue {
  private readonly encryptionTraffic: EncryptionTraffic;

  constructor(
    private readonly store: AppserviceStore,
    private readonly stream: EventStream,
    encryption: EncryptionStream,
    private readonly limits: TransactionLimits = DEFAULT_TRANSACTION_LIMITS,
  ) {
    this.encryptionTraffic = new EncryptionTraffic(store, encryption, stream, limits);
  }

  /** The transaction to send next: the oldest one stored, else a new one built (and stored) now. */
  next(appservice: Appservice): NextTransaction {
    const stored = this.store.oldestTransaction(appservice.id);
    if (stored) return { kind: 'send', txn: stored };
    return this.store.atomically(() => this.build(appservice));
  }

  /** For an appservice without a URL: nothing is sent, and the position follows the stream's head. */
  skipToHead(appservice: Appservice): void {
    this.store.ensureState(appservice.id, this.stream.head());
    this.store.setStreamPos(appservice.id, this.stream.head());
  }

  private build(appservice: Appservice): NextTransaction {
    const state = this.store.ensureState(appservice.id, this.stream.head());
    const interest = new InterestMatcher(this.stream);
    const events: ClientEvent[] = [];
    let pos = state.stream_pos;
    let scanned = 0;
    let reachedEnd = false;
    while (events.length < this.limits.maxEvents && scanned < this.limits.scanLimit) {
      const batch = this.stream.readAfter(pos, this.limits.maxEvents);
      if (batch.length === 0) {
        reachedEnd = true;
        break;
      }
      for (const { pos: eventPos, event } of batch) {
        pos = eventPos;
        scanned++;
        if (interest.inEvent(appservice, event)) events.push(this.withRoomState(appservice, event));
        if (events.length >= this.limits.maxEvents) break;
      }
    }
    const ephemeralRows = this.store.peekEphemeral(appservice.id, this.limits.maxEphemeral);
    this.store.setStreamPos(appservice.id, pos);
    const ephemeral: EphemeralEvent[] = ephemeralRows.map((r) => r.event);
    const encryption = this.encryptionTraffic.collect(appservice, interest, events, ephemeral);
    if (events.length === 0 && ephemeralRows.length === 0 && !encryption.worthSending) {
      return { kind: 'idle', more: (!reachedEnd && scanned >= this.limits.scanLimit) || encryption.more };
    }
    const body: Record<string, unknown> = { events, ...encryption.body };
    if (ephemeral.length > 0) {
      body['ephemeral'] = ephemeral;
      // The unstable MSC2409 key as well, as Synapse sends it: older appservice libraries read only it.
      body['de.sorunome.msc2409.ephemeral'] = ephemeral;
      this.store.deleteEphemeralUpTo(appservice.id, ephemeralRows[ephemeralRows.length - 1]!.seq);
    }
    const txn: StoredTransaction = {
      appserviceId: appservice.id,
      txnId: this.store.allocateTxnId(appservice.id),
      body: JSON.stringify(body),
      eventCount: events.length,
      ephemeralCount: ephemeral.length,
    };
    this.store.insertTransaction(txn);
    return { kind: 'send', txn };
  }

  /** Invites and knocks for the appservice's users carry the room's stripped state, as Synapse sends them. */
  private withRoomState(appservice: Appservice, event: ClientEvent): ClientEvent {
    if (event.type !== 'm.room.member' || typeof event.state_key !== 'string') return event;
    const membership = event.content['membership'];
    const key = membership === 'invite' ? 'invite_room_state' : membership === 'knock' ? 'knock_room_state' : null;
    if (key === null || event.unsigned?.[key] !== undefined || !coversUser(appservice, event.state_key)) return event;
    return { ...event, unsigned: { ...event.unsigned, [key]: this.stream.strippedState(event.room_id) } };
  }
}
