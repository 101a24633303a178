// PUT /_matrix/federation/v1/send/{txnId}: the PDUs and EDUs another server pushes (docs/federation.md#receiving).
// Each PDU, in order: its room must be one this server is in and its prev_events known timeline events;
// then the checks on receipt (PduChecker) against its auth events, the state after its prev_events
// (resolved by state resolution v2 when there are several) and the current state; then it is stored
// as the verdict says. One PDU's failure is its own error entry; the others go on. The answer is kept
// per (origin, txnId) so a retried transaction is answered the same without being processed again.
import type { HomeserverContext } from '../../HomeserverContext.js';
import { MatrixError } from '../../MatrixError.js';
import { PowerLevels } from '../../rooms/PowerLevels.js';
import { redactContent } from '../../rooms/Redaction.js';
import { isSupportedRoomVersion } from '../../rooms/RoomVersions.js';
import { roomAllows } from '../acl/RoomServerAcl.js';
import { domainOf, type RoomEvent } from '../eventauth/RoomState.js';
import type { Federation } from '../Federation.js';
import { receiveOutOfBandMembership } from '../membership/OutOfBandMembership.js';
import { stateEventsOf } from '../membership/RoomGraph.js';
import type { Pdu } from '../pdu/Pdu.js';
import { resolveStateV2, type StateIds } from '../stateres/StateResolutionV2.js';
import { InboundEdus } from './InboundEdus.js';
import { checkReceivedPdu } from './PduChecker.js';
import { parsePdu } from './PduFormat.js';

/** The spec's caps on one transaction. */
export const MAX_TXN_PDUS = 50;
export const MAX_TXN_EDUS = 100;

export type PduResult = Record<string, never> | { error: string };
export interface SendResponse {
  pdus: Record<string, PduResult>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class TransactionReceiver {
  private readonly s;
  private readonly edus: InboundEdus;

  constructor(
    private readonly hs: HomeserverContext,
    private readonly fed: Federation,
  ) {
    this.edus = new InboundEdus(hs);
    this.s = {
      get: hs.db.prepare('SELECT response FROM federation_received_txns WHERE origin = ? AND txn_id = ?'),
      put: hs.db.prepare('INSERT OR IGNORE INTO federation_received_txns (origin, txn_id, response, received_ts) VALUES (?, ?, ?, ?)'),
    };
  }

  async receive(origin: string, txnId: string, body: unknown): Promise<SendResponse> {
    const seen = this.s.get.get(origin, txnId) as { response: string } | undefined;
    if (seen) return JSON.parse(seen.response) as SendResponse;
    const { pdus, edus } = validateBody(origin, body);
    const response: SendResponse = { pdus: {} };
    for (const raw of pdus) {
      const { id, result } = await this.receivePdu(origin, raw);
      response.pdus[id] = result;
    }
    for (const edu of edus) this.edus.receive(origin, edu);
    this.s.put.run(origin, txnId, JSON.stringify(response), Date.now());
    return response;
  }

  private async receivePdu(origin: string, raw: unknown): Promise<{ id: string; result: PduResult }> {
    const { events } = this.hs;
    const fail = (id: string, error: string): { id: string; result: PduResult } => {
      this.hs.logger.info({ origin, eventId: id, reason: error }, 'federation: received PDU not taken');
      return { id, result: { error } };
    };
    const roomId = isObject(raw) && typeof raw['room_id'] === 'string' ? raw['room_id'] : '';
    // A resident server sends a room's events as soon as it has our join, maybe before we stored the room.
    if (!events.room(roomId)) await this.hs.remoteMembership?.joinSettled(roomId);
    const version = events.room(roomId)?.room_version;
    // Without a known room there is no version to compute the id with: the v4+ id form is the same for
    // every supported version, so any of them names the PDU in the error entry.
    const idVersion = version !== undefined && isSupportedRoomVersion(version) ? version : '10';
    const parsed = parsePdu(idVersion, raw);
    if (!parsed.ok) return fail(isObject(raw) && typeof raw['event_id'] === 'string' ? raw['event_id'] : '', parsed.reason);
    const eventId = parsed.event.event_id;
    if (version === undefined || !isSupportedRoomVersion(version)) return fail(eventId, `Unknown room ${roomId}`);
    if (!events.members(roomId, 'join').some((m) => domainOf(m.user_id) === this.hs.serverName)) {
      // A local user's knock turned away or invite withdrawn is the one event of such a room taken.
      const ended = await receiveOutOfBandMembership(this.hs, this.fed, origin, version, parsed.event, raw);
      if (ended === null) return fail(eventId, `${this.hs.serverName} is not in room ${roomId}`);
      return ended.error === undefined ? { id: eventId, result: {} } : fail(eventId, ended.error);
    }
    if (!roomAllows(events, roomId, origin)) return fail(eventId, `${origin} is denied by the server ACL of room ${roomId}`);
    // An outlier (known from an auth chain) may still join the timeline; anything else stored is done with.
    const known = events.pduEntry(eventId);
    if (known && known.status !== 'outlier') return { id: eventId, result: {} };

    const prevs: StateIds[] = [];
    for (const prev of parsed.event.prev_events) {
      const stored = events.pduEntry(prev)?.status === 'timeline' ? events.event(prev) : null;
      if (!stored || stored.room_id !== roomId) return fail(eventId, `prev_event ${prev} is not known here`);
      const after: StateIds = new Map();
      for (const [key, ev] of events.stateMapAt(roomId, stored.pos)) after.set(key, ev.event_id);
      prevs.push(after);
    }
    const ctx = { roomVersion: version, signedBy: () => true };
    const source = { get: (id: string) => events.pduEntry(id)?.event, isRejected: (id: string) => events.pduEntry(id)?.status === 'rejected' };
    const stateBefore = resolveStateV2(ctx, prevs, source);
    const verdict = await checkReceivedPdu(raw, {
      roomVersion: version,
      verifyKey: (server, keyId, ts) => this.fed.remoteKeys.verifyKey(server, keyId, ts),
      authEvent: (id) => events.pduEntry(id)?.event,
      isRejected: (id) => events.pduEntry(id)?.status === 'rejected',
      stateBefore: () => stateEventsOf(events, stateBefore),
      currentState: () => stateEventsOf(events, events.stateIds(roomId)),
    });
    if (verdict.outcome === 'dropped') return fail(eventId, verdict.reason);
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
      return { id: eventId, result: { error: `Could not be stored: ${(err as Error).message}` } };
    }
    // A soft-failed event is answered as accepted: its sender is not told that this server holds it back.
    if (verdict.outcome === 'rejected') return fail(eventId, verdict.reason);
    if (verdict.outcome === 'soft_failed') this.hs.logger.info({ origin, roomId, eventId, reason: verdict.reason }, 'federation: received PDU soft-failed');
    this.hs.logger.debug({ origin, roomId, eventId }, 'federation: received PDU stored');
    return { id: eventId, result: {} };
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

function validateBody(origin: string, body: unknown): { pdus: unknown[]; edus: unknown[] } {
  if (!isObject(body)) throw new MatrixError(400, 'M_BAD_JSON', 'The transaction must be a JSON object');
  if (body['origin'] !== origin) throw new MatrixError(403, 'M_FORBIDDEN', `The transaction's origin is not ${origin}, the server that signed the request`);
  if (typeof body['origin_server_ts'] !== 'number' || !Number.isSafeInteger(body['origin_server_ts'])) throw new MatrixError(400, 'M_BAD_JSON', 'origin_server_ts must be an integer');
  const pdus = body['pdus'];
  if (!Array.isArray(pdus)) throw new MatrixError(400, 'M_BAD_JSON', 'pdus must be an array');
  const edus = body['edus'] ?? [];
  if (!Array.isArray(edus)) throw new MatrixError(400, 'M_BAD_JSON', 'edus must be an array');
  if (pdus.length > MAX_TXN_PDUS) throw new MatrixError(400, 'M_BAD_JSON', `A transaction carries at most ${MAX_TXN_PDUS} PDUs`);
  if (edus.length > MAX_TXN_EDUS) throw new MatrixError(400, 'M_BAD_JSON', `A transaction carries at most ${MAX_TXN_EDUS} EDUs`);
  return { pdus, edus };
}
