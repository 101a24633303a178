// Turns stored events into the spec's ClientEvent: unsigned.age, prev_content/replaces_state for state,
// transaction_id for the device that sent it, redacted_because for redacted events, and the bundled
// aggregations (m.relations) the response asks for.
import type { ClientEvent } from '../contracts.js';
import type { BundledRelations } from '../relations/BundledAggregations.js';
import type { EventStore } from './EventStore.js';
import type { StoredEvent } from './StoredEvent.js';

export interface FormatOptions {
  /** The requesting device's transaction key: its own events carry their transaction_id. */
  txnKey?: string | null;
  /** Adds `unsigned.m.relations` where the event has children to aggregate. */
  relations?: BundledRelations;
}

export class ClientEventFormatter {
  constructor(private readonly events: EventStore) {}

  format(ev: StoredEvent, opts: FormatOptions = {}): ClientEvent {
    const unsigned: Record<string, unknown> = { age: Math.max(0, Date.now() - ev.origin_server_ts) };
    if (opts.txnKey && ev.txn_key === opts.txnKey && ev.txn_id !== null) unsigned['transaction_id'] = ev.txn_id;
    if (ev.replaces_state) {
      const prev = this.events.event(ev.replaces_state);
      if (prev) {
        unsigned['replaces_state'] = prev.event_id;
        unsigned['prev_content'] = prev.content;
        unsigned['prev_sender'] = prev.sender;
      }
    }
    if (ev.redacted_by) {
      const because = this.events.event(ev.redacted_by);
      if (because) unsigned['redacted_because'] = this.format(because);
    }
    const relations = opts.relations?.of(ev);
    if (relations) unsigned['m.relations'] = relations;
    const out: ClientEvent = {
      event_id: ev.event_id,
      room_id: ev.room_id,
      sender: ev.sender,
      type: ev.type,
      content: ev.content,
      origin_server_ts: ev.origin_server_ts,
      unsigned,
    };
    if (ev.state_key !== null) out.state_key = ev.state_key;
    if (ev.redacts !== null) out.redacts = ev.redacts;
    return out;
  }

  /** The bytes the event takes in a response, for the response budgets. */
  serializedSize(ev: StoredEvent, opts: FormatOptions = {}): number {
    return Buffer.byteLength(JSON.stringify(this.format(ev, opts)));
  }

  formatAll(evs: StoredEvent[], opts: FormatOptions = {}): ClientEvent[] {
    return evs.map((e) => this.format(e, opts));
  }
}
