// Hands each event this server makes to the outbound queue, inside the transaction that stores it, so an
// event is queued for the room's other servers exactly when it is committed. Events from elsewhere (their
// own servers sent them) and events stored before PDUs (legacy ids no peer accepts) are not sent.
import type { EventIndexer, EventStore } from '../../events/EventStore.js';
import type { StoredEvent } from '../../events/StoredEvent.js';
import type { FederationSender } from './FederationSender.js';
import { serverOf } from './RoomDestinations.js';

export class LocalEventFeed implements EventIndexer {
  constructor(
    private readonly serverName: string,
    private readonly events: EventStore,
    private readonly sender: FederationSender,
  ) {}

  appended(ev: StoredEvent): void {
    if (serverOf(ev.sender) !== this.serverName) return;
    const entry = this.events.pduEntry(ev.event_id);
    const pdu = this.events.pdu(ev.event_id);
    if (!entry || entry.legacyId || !pdu) return;
    this.sender.onLocalEvents([{ pdu, eventId: ev.event_id, roomId: ev.room_id }]);
  }

  /** A redaction is an event of its own and goes out through appended(). */
  redacted(): void {}
}
