// The checks on receipt of a PDU, in the spec's order ("Checks performed on receipt of a PDU"):
//   1. a valid event of the room version, else dropped;
//   2. signatures (the sender's server, and for a restricted join the authorising user's server), else dropped;
//   3. the content hash, else it goes on as its redacted copy;
//   4. authorised by its own auth_events, else rejected;
//   5. authorised by the state before it, else rejected;
//   6. authorised by the room's current state, else soft-failed (stored, not shown, not built on).
// Checks 1-3 (checkPduSignatures) only wait for keys; 4-6 (authorizeSignedPdu) are synchronous. Pure apart
// from the key lookups: the caller hands in the auth events, the state before the event
// (state resolution v2 over its prev_events) and the current state, and stores what the verdict says.
import type { RoomVersion } from '../../rooms/RoomVersions.js';
import { checkAuthEvents, authorizeAgainstState, type AuthContext } from '../eventauth/EventAuthRules.js';
import { domainOf, type RoomEvent, type StateEvents } from '../eventauth/RoomState.js';
import { checkEventSignatures, type VerifyKeyLookup } from '../pdu/EventSigning.js';
import { redactEvent } from '../pdu/EventRedaction.js';
import { signatureKeyIds, verifyJsonSignature } from '../signing/SignedJson.js';
import { parsePdu } from './PduFormat.js';

export interface PduCheckSources {
  roomVersion: RoomVersion;
  /** A server's verify key valid at a time (Federation.remoteKeys.verifyKey). */
  verifyKey: VerifyKeyLookup;
  /** An auth event already stored (fetched beforehand when missing); undefined when unknown. */
  authEvent(eventId: string): RoomEvent | undefined;
  /** Whether a stored event was rejected: an event citing it is rejected too. */
  isRejected(eventId: string): boolean;
  /** The room's state before the event: after its prev_events, resolved when there are several. */
  stateBefore(event: RoomEvent): StateEvents;
  currentState(): StateEvents;
}

export type PduVerdict =
  /** Not stored, not answered as an error of the room: malformed or badly signed. */
  | { outcome: 'dropped'; reason: string }
  /** Stored as rejected: never part of the room's state or timeline. */
  | { outcome: 'rejected'; event: RoomEvent; redacted: boolean; reason: string }
  /** Stored, but neither shown to clients nor used as a prev_event. */
  | { outcome: 'soft_failed'; event: RoomEvent; redacted: boolean; reason: string }
  | { outcome: 'accepted'; event: RoomEvent; redacted: boolean };

/** A PDU past checks 1-3: its event (the redacted copy when the hash failed) and the servers whose signature holds. */
export type SignedPdu = { outcome: 'dropped'; reason: string } | { outcome: 'signed'; event: RoomEvent; redacted: boolean; signers: Set<string> };

/** Runs the six checks on one PDU (`raw` as received, without an event_id in v4 rooms). */
export async function checkReceivedPdu(raw: unknown, sources: PduCheckSources): Promise<PduVerdict> {
  const signed = await checkPduSignatures(sources.roomVersion, raw, sources.verifyKey);
  return signed.outcome === 'dropped' ? signed : authorizeSignedPdu(signed, sources);
}

/**
 * Checks 1-3, which need nothing of the room but keys: the only part that may wait (for a key fetch), so
 * a transaction's PDUs can all have them done before any is stored.
 */
export async function checkPduSignatures(roomVersion: RoomVersion, raw: unknown, verifyKey: VerifyKeyLookup): Promise<SignedPdu> {
  const parsed = parsePdu(roomVersion, raw);
  if (!parsed.ok) return { outcome: 'dropped', reason: parsed.reason };
  const pdu = raw as Record<string, unknown>;

  const signatures = await checkEventSignatures(roomVersion, pdu, verifyKey);
  if (signatures.outcome === 'bad_signature') return { outcome: 'dropped', reason: signatures.reason };
  const signers = await verifiedSigners(roomVersion, parsed.event, pdu, verifyKey);
  const via = parsed.event.content['join_authorised_via_users_server'];
  if (parsed.event.type === 'm.room.member' && typeof via === 'string' && !signers.has(domainOf(via))) {
    return { outcome: 'dropped', reason: `A restricted join needs a signature of ${domainOf(via)}` };
  }
  const redacted = signatures.outcome === 'redacted';
  const event: RoomEvent = redacted ? { ...(signatures.event as RoomEvent), event_id: parsed.event.event_id } : parsed.event;
  return { outcome: 'signed', event, redacted, signers };
}

/** Checks 4-6 on a PDU whose signatures hold: synchronous, so they can run inside the write that stores it. */
export function authorizeSignedPdu(signed: SignedPdu & { outcome: 'signed' }, sources: Omit<PduCheckSources, 'verifyKey'>): PduVerdict {
  const { event, redacted, signers } = signed;
  const ctx: AuthContext = { roomVersion: sources.roomVersion, signedBy: (e, server) => e.event_id === event.event_id && signers.has(server) };

  const authEvents: RoomEvent[] = [];
  for (const id of event.auth_events) {
    const auth = sources.authEvent(id);
    if (!auth) return { outcome: 'rejected', event, redacted, reason: `Auth event ${id} is not known` };
    authEvents.push(auth);
  }
  const own = checkAuthEvents(ctx, event, authEvents, (id) => sources.isRejected(id));
  if (!own.allowed) return { outcome: 'rejected', event, redacted, reason: own.reason };
  if (event.type === 'm.room.create') return { outcome: 'accepted', event, redacted };

  const before = authorizeAgainstState(ctx, event, sources.stateBefore(event));
  if (!before.allowed) return { outcome: 'rejected', event, redacted, reason: `Not allowed by the state before it: ${before.reason}` };
  const now = authorizeAgainstState(ctx, event, sources.currentState());
  if (!now.allowed) return { outcome: 'soft_failed', event, redacted, reason: `Not allowed by the current state: ${now.reason}` };
  return { outcome: 'accepted', event, redacted };
}

/** The servers whose signature on the event verifies with a key known at its time. */
async function verifiedSigners(roomVersion: RoomVersion, event: RoomEvent, pdu: Record<string, unknown>, lookup: VerifyKeyLookup): Promise<Set<string>> {
  const redacted = redactEvent(roomVersion, pdu);
  const out = new Set<string>();
  const signatures = pdu['signatures'] as Record<string, unknown>;
  for (const server of Object.keys(signatures)) {
    for (const keyId of signatureKeyIds(redacted, server)) {
      const key = await lookup(server, keyId, event.origin_server_ts);
      if (key && verifyJsonSignature(redacted, server, keyId, key)) out.add(server);
    }
  }
  return out;
}
