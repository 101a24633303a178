// Hands each event this server makes to the outbound queue, inside the transaction that stores it, so an
// event is queued for the room's other servers exactly when it is committed. Events from elsewhere (their
// own servers sent them) and events stored before PDUs (legacy ids no peer accepts) are not sent, nor is a
// local user's join or leave that went out through another server with send_join/send_leave: that
// server passes it on to the room's other servers (the spec's resident server does; Synapse's too).
import type { EventIndexer, EventStore } from '../../events/EventStore.js';
import type { StoredEvent } from '../../events/StoredEvent.js';
import type { FederationSender } from './FederationSender.js';
import { serverOf } from './RoomDestinations.js';

export class LocalEventFeed implements EventIndexer {
  private readonly sentElsewhere = new Set<string>();

  constructor(
    private readonly serverName: string,
    private readonly events: EventStore,
    private readonly sender: FederationSender,
  ) {}

  /** Runs `store`, which stores event `eventId` that another server already took and passes on: not queued. */
  storeSentElsewhere<T>(eventId: string, store: () => T): T {
    this.sentElsewhere.add(eventId);
    try {
      return store();
    } finally {
      this.sentElsewhere.delete(eventId);
    }
  }

  appended(ev: StoredEvent): void {
    if (serverOf(ev.sender) !== this.serverName || this.sentElsewhere.has(ev.event_id)) return;
    const entry = this.events.pduEntry(ev.event_id);
    const pdu = this.events.pdu(ev.event_id);
    if (!entry || entry.legacyId || !pdu) return;
    this.sender.onLocalEvents([{ pdu, eventId: ev.event_id, roomId: ev.room_id }]);
  }

  /** A redaction is an event of its own and goes out through appended(). */
  redacted(): void {}
}
