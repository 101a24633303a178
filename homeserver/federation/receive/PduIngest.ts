// One PDU of a room this server is in, from its checks on receipt to its storing: the state before it
// (after each of its prev_events, resolved by state resolution v2 when there are several, or given when
// it was fetched for a gap), PduChecker's verdict, and the store as the verdict says. Used for PDUs pushed
// with /send and for those fetched to fill a gap.
import type { HomeserverContext } from '../../HomeserverContext.js';
import { PowerLevels } from '../../rooms/PowerLevels.js';
import { redactContent } from '../../rooms/Redaction.js';
import type { RoomVersion } from '../../rooms/RoomVersions.js';
import { domainOf, type RoomEvent } from '../eventauth/RoomState.js';
import type { Federation } from '../Federation.js';
import { stateEventsOf } from '../membership/RoomGraph.js';
import type { Pdu } from '../pdu/Pdu.js';
import { resolveStateV2, type StateIds } from '../stateres/StateResolutionV2.js';
import { authorizeSignedPdu, checkPduSignatures, type SignedPdu } from './PduChecker.js';

export type IngestResult = { stored: true } | { stored: false; error: string };

export class PduIngest {
  constructor(
    private readonly hs: HomeserverContext,
    private readonly fed: Federation,
  ) {}

  /**
   * Whether the event is in the room's timeline here with the state after it known: history fetched by
   * backfill (below position 0, no state recorded) does not count, so an event built on it fetches its state.
   */
  inTimeline(roomId: string, eventId: string): boolean {
    const entry = this.hs.events.pduEntry(eventId);
    const stored = entry?.status === 'timeline' && entry.event.room_id === roomId ? this.hs.events.event(eventId) : null;
    return stored !== null && (stored.pos > 0 || this.hs.events.stateGroups.ofEvent(eventId) !== null);
  }

  /** The state before an event with these prev_events, all in the timeline here (see inTimeline). */
  stateFromPrevs(roomId: string, version: RoomVersion, prevEvents: readonly string[]): StateIds {
    const states = prevEvents.map((prev) => this.stateAfter(roomId, prev));
    const source = { get: (id: string) => this.hs.events.pduEntry(id)?.event, isRejected: (id: string) => this.hs.events.pduEntry(id)?.status === 'rejected' };
    return resolveStateV2({ roomVersion: version, signedBy: () => true }, states, source);
  }

  /** Checks a PDU against its auth events, `stateBefore` and the current state, and stores it as the verdict says. */
  async checkAndStore(origin: string, roomId: string, version: RoomVersion, raw: unknown, eventId: string, stateBefore: StateIds): Promise<IngestResult> {
    const signed = await this.checkSignatures(version, raw);
    return this.storeSigned(origin, roomId, version, raw, eventId, signed, stateBefore);
  }

  /** The checks on receipt that may wait for a key fetch (PduChecker's 1-3). */
  checkSignatures(version: RoomVersion, raw: unknown): Promise<SignedPdu> {
    return checkPduSignatures(version, raw, (server, keyId, ts) => this.fed.remoteKeys.verifyKey(server, keyId, ts));
  }

  /**
   * The rest of the checks (4-6) and the store, synchronously in one write(): inside a caller's write()
   * that is a savepoint of it, so a PDU that cannot be stored undoes only its own rows.
   */
  storeSigned(origin: string, roomId: string, version: RoomVersion, raw: unknown, eventId: string, signed: SignedPdu, stateBefore: StateIds): IngestResult {
    const { events } = this.hs;
    const verdict =
      signed.outcome === 'dropped'
        ? signed
        : authorizeSignedPdu(signed, {
            roomVersion: version,
            authEvent: (id) => events.pduEntry(id)?.event,
            isRejected: (id) => events.pduEntry(id)?.status === 'rejected',
            stateBefore: () => stateEventsOf(events, stateBefore),
            currentState: () => stateEventsOf(events, events.stateIds(roomId)),
          });
    if (verdict.outcome === 'dropped') return { stored: false, error: verdict.reason };
    // A PDU whose content hash failed is kept as its redacted copy, as the spec says.
    const pdu = (verdict.redacted ? { ...verdict.event } : raw) as Pdu;
    if ('event_id' in pdu) delete (pdu as Record<string, unknown>)['event_id'];
    try {
      events.write(() => {
        if (verdict.outcome === 'rejected') events.storeRemote({ eventId, pdu, status: 'rejected', reason: verdict.reason });
        else if (verdict.outcome === 'soft_failed') events.storeRemote({ eventId, pdu, status: 'soft_failed' });
        else {
          events.storeRemote({ eventId, pdu, status: 'timeline', stateBefore });
          this.applyRedaction(verdict.event, version);
        }
      });
    } catch (err) {
      // Rolled back; one PDU this server cannot store must not make the sender retry the whole transaction.
      this.hs.logger.error({ err, origin, roomId, eventId }, 'federation: received PDU could not be stored');
      return { stored: false, error: `Could not be stored: ${(err as Error).message}` };
    }
    if (verdict.outcome === 'rejected') return { stored: false, error: verdict.reason };
    // A soft-failed event is answered as accepted: its sender is not told that this server holds it back.
    if (verdict.outcome === 'soft_failed') this.hs.logger.info({ origin, roomId, eventId, reason: verdict.reason }, 'federation: received PDU soft-failed');
    this.hs.logger.debug({ origin, roomId, eventId }, 'federation: received PDU stored');
    return { stored: true };
  }

  /** The state after a timeline event: its record (StateGroups), or for an event from before those, in stream order. */
  private stateAfter(roomId: string, eventId: string): StateIds {
    const { events } = this.hs;
    const groups = events.stateGroups.ofEvent(eventId);
    if (groups) return events.stateGroups.state(groups.after);
    const after: StateIds = new Map();
    for (const [key, ev] of events.stateMapAt(roomId, events.event(eventId)!.pos)) after.set(key, ev.event_id);
    return after;
  }

  /** A received redaction redacts its target as a local one does: when the sender may (own server or power level). */
  private applyRedaction(ev: RoomEvent, version: string): void {
    if (ev.type !== 'm.room.redaction') return;
    const targetId = typeof ev['redacts'] === 'string' ? ev['redacts'] : ev.content['redacts'];
    const target = typeof targetId === 'string' ? this.hs.events.event(targetId) : null;
    if (!target || target.room_id !== ev.room_id || target.redacted_by) return;
    const pl = PowerLevels.of(this.hs.events.liveState(ev.room_id), version);
    if (domainOf(target.sender) !== domainOf(ev.sender) && pl.userLevel(ev.sender) < pl.redact) return;
    this.hs.events.markRedacted(target, redactContent(version, target.type, target.content), ev.event_id);
  }
}
