// Events a peer handed over on request (state and auth chains for a gap, backfill): each must be an event
// of the room in its version, signed by its sender's server (a wrong content hash: its redacted copy) and
// allowed by its own auth events, which must be among them or already stored here. The rest is left out.
import type { RoomVersion } from '../../rooms/RoomVersions.js';
import { checkAuthEvents, type AuthContext } from '../eventauth/EventAuthRules.js';
import type { RoomEvent } from '../eventauth/RoomState.js';
import { checkEventSignatures, type VerifyKeyLookup } from '../pdu/EventSigning.js';
import type { Pdu } from '../pdu/Pdu.js';
import { parsePdu } from './PduFormat.js';

export interface CheckedEvent {
  event: RoomEvent;
  /** As stored: without event_id, redacted when its content hash failed. */
  pdu: Pdu;
}

export interface StoredLookup {
  /** A stored event that is not rejected. */
  get(eventId: string): RoomEvent | undefined;
  isRejected(eventId: string): boolean;
}

/** The events of `raws` that hold up, by event id (each event's auth events were judged before it). */
export async function checkFetchedEvents(version: RoomVersion, roomId: string, raws: readonly unknown[], verifyKey: VerifyKeyLookup, stored: StoredLookup): Promise<Map<string, CheckedEvent>> {
  const parsed = new Map<string, CheckedEvent>();
  for (const raw of raws) {
    const p = parsePdu(version, raw);
    if (!p.ok || p.event.room_id !== roomId || parsed.has(p.event.event_id)) continue;
    const sig = await checkEventSignatures(version, raw as Record<string, unknown>, verifyKey);
    if (sig.outcome === 'bad_signature') continue;
    const pdu = { ...((sig.outcome === 'redacted' ? sig.event : raw) as Pdu) };
    delete (pdu as Record<string, unknown>)['event_id'];
    parsed.set(p.event.event_id, { event: { ...pdu, event_id: p.event.event_id }, pdu });
  }
  const ok = new Map<string, CheckedEvent>();
  const ctx: AuthContext = { roomVersion: version, signedBy: () => true };
  // By depth, so an event's auth events were judged before it.
  for (const checked of [...parsed.values()].sort((a, b) => a.event.depth - b.event.depth)) {
    const auth = checked.event.auth_events.map((id) => ok.get(id)?.event ?? stored.get(id));
    if (auth.some((a) => a === undefined)) continue;
    if (!checkAuthEvents(ctx, checked.event, auth as RoomEvent[], (id) => stored.isRejected(id)).allowed) continue;
    ok.set(checked.event.event_id, checked);
  }
  return ok;
}

/** The auth events these name that are neither among them nor stored here. */
export function missingAuthEvents(raws: readonly unknown[], version: RoomVersion, known: (eventId: string) => boolean): string[] {
  const have = new Set<string>();
  const named = new Set<string>();
  for (const raw of raws) {
    const p = parsePdu(version, raw);
    if (!p.ok) continue;
    have.add(p.event.event_id);
    for (const id of p.event.auth_events) named.add(id);
  }
  return [...named].filter((id) => !have.has(id) && !known(id));
}
