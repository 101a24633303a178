// PUT /_matrix/federation/v1/send/{txnId}: the PDUs and EDUs another server pushes (docs/federation.md#receiving).
// Each PDU, in order: its room must be one this server is in; prev_events unknown here are fetched
// (GapFiller); then PduIngest checks it on receipt against its auth events, the state at its prev_events
// (resolved by state resolution v2 when there are several) and the current state, and stores it as the
// verdict says. One PDU's failure is its own error entry; the others go on. The answer is kept
// per (origin, txnId) so a retried transaction is answered the same without being processed again.
import type { HomeserverContext } from '../../HomeserverContext.js';
import { MatrixError } from '../../MatrixError.js';
import { isSupportedRoomVersion } from '../../rooms/RoomVersions.js';
import { roomAllows } from '../acl/RoomServerAcl.js';
import { domainOf } from '../eventauth/RoomState.js';
import type { Federation } from '../Federation.js';
import { receiveOutOfBandMembership } from '../membership/OutOfBandMembership.js';
import { checkEventSignatures } from '../pdu/EventSigning.js';
import type { StateIds } from '../stateres/StateResolutionV2.js';
import { GapFiller } from './GapFiller.js';
import { InboundEdus } from './InboundEdus.js';
import { PduIngest } from './PduIngest.js';
import { parsePdu } from './PduFormat.js';

/** The spec's caps on one transaction. */
export const MAX_TXN_PDUS = 50;
export const MAX_TXN_EDUS = 100;
/** Gaps filled (GapFiller) for one transaction; a PDU past them is answered with an error. */
export const MAX_GAPS_PER_TXN = 3;
/** All gaps of one transaction end by then. */
const TXN_GAP_DEADLINE_MS = 25_000;

export type PduResult = Record<string, never> | { error: string };
export interface SendResponse {
  pdus: Record<string, PduResult>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class TransactionReceiver {
  private readonly s;
  private readonly edus: InboundEdus;
  private readonly ingest: PduIngest;
  private readonly gaps: GapFiller;
  private readonly inFlight = new Map<string, Promise<SendResponse>>();

  constructor(
    private readonly hs: HomeserverContext,
    private readonly fed: Federation,
  ) {
    this.edus = new InboundEdus(hs);
    this.ingest = new PduIngest(hs, fed);
    this.gaps = new GapFiller(hs, fed, this.ingest);
    this.s = {
      get: hs.db.prepare('SELECT response FROM federation_received_txns WHERE origin = ? AND txn_id = ?'),
      put: hs.db.prepare('INSERT OR IGNORE INTO federation_received_txns (origin, txn_id, response, received_ts) VALUES (?, ?, ?, ?)'),
    };
  }

  async receive(origin: string, txnId: string, body: unknown): Promise<SendResponse> {
    const seen = this.s.get.get(origin, txnId) as { response: string } | undefined;
    if (seen) return JSON.parse(seen.response) as SendResponse;
    // A sender that gave up waiting (gaps take requests of their own) sends the same transaction again:
    // it gets the answer of the one still running.
    const key = JSON.stringify([origin, txnId]);
    const running = this.inFlight.get(key);
    if (running) return running;
    const processing = this.process(origin, txnId, body);
    this.inFlight.set(key, processing);
    try {
      return await processing;
    } finally {
      this.inFlight.delete(key);
    }
  }

  private async process(origin: string, txnId: string, body: unknown): Promise<SendResponse> {
    const { pdus, edus } = validateBody(origin, body);
    const response: SendResponse = { pdus: {} };
    // Within the sender's usual request timeout (30 s), whatever the gaps cost.
    const budget = { gaps: MAX_GAPS_PER_TXN, deadline: Date.now() + TXN_GAP_DEADLINE_MS };
    for (const raw of pdus) {
      const { id, result } = await this.receivePdu(origin, raw, budget);
      response.pdus[id] = result;
    }
    for (const edu of edus) this.edus.receive(origin, edu);
    this.s.put.run(origin, txnId, JSON.stringify(response), Date.now());
    return response;
  }

  private async receivePdu(origin: string, raw: unknown, budget: { gaps: number; deadline: number }): Promise<{ id: string; result: PduResult }> {
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

    let stateBefore: StateIds | null = null;
    const unknownPrev = parsed.event.prev_events.find((p) => !this.ingest.inTimeline(roomId, p));
    if (unknownPrev !== undefined) {
      // A gap: filled from the origin, a few per transaction (each may take several requests), and only
      // for a PDU whose signature holds: a forged one must not make this server send any request.
      const signatures = await checkEventSignatures(version, raw as Record<string, unknown>, (s, k, ts) => this.fed.remoteKeys.verifyKey(s, k, ts));
      if (signatures.outcome === 'bad_signature') return fail(eventId, signatures.reason);
      if (budget.gaps <= 0) return fail(eventId, `prev_event ${unknownPrev} is not known here (no more gaps filled in this transaction)`);
      budget.gaps -= 1;
      try {
        stateBefore = await this.gaps.fill(origin, roomId, version, parsed.event, budget.deadline);
      } catch (err) {
        return fail(eventId, `prev_event ${unknownPrev} is not known here and the gap could not be filled: ${(err as Error).message}`);
      }
      // Another transaction may have stored it meanwhile.
      const now = events.pduEntry(eventId);
      if (now && now.status !== 'outlier') return { id: eventId, result: {} };
    }
    const result = await this.ingest.checkAndStore(origin, roomId, version, raw, eventId, stateBefore ?? this.ingest.stateFromPrevs(roomId, version, parsed.event.prev_events));
    return result.stored ? { id: eventId, result: {} } : fail(eventId, result.error);
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
