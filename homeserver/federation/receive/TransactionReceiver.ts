// PUT /_matrix/federation/v1/send/{txnId}: the PDUs and EDUs another server pushes (docs/federation.md#receiving).
// First, for every PDU, what may wait and needs nothing of the room's state: the room being joined, its
// parsing and its signatures (key fetches). Then, in order: PDUs whose room has a local member and whose
// prev_events are all here are checked (PduIngest: against their auth events, the state at their
// prev_events, resolved by state resolution v2 when there are several, and the current state) and stored
// together, in one SQLite transaction with a savepoint per PDU, so a transaction of 50 costs one commit
// (fsync) and not 50. A PDU that needs requests (a gap to fill with GapFiller, a room this server is not
// in) ends that run and goes alone, after it. One PDU's failure is its own error entry; the others go on.
// The answer is given after the last commit and kept per (origin, txnId), so a retried transaction is
// answered the same without being processed again.
import type { HomeserverContext } from '../../HomeserverContext.js';
import { MatrixError } from '../../MatrixError.js';
import { isSupportedRoomVersion, type RoomVersion } from '../../rooms/RoomVersions.js';
import { roomAllows } from '../acl/RoomServerAcl.js';
import { domainOf, type RoomEvent } from '../eventauth/RoomState.js';
import type { Federation } from '../Federation.js';
import { receiveOutOfBandMembership } from '../membership/OutOfBandMembership.js';
import type { StateIds } from '../stateres/StateResolutionV2.js';
import { GapFiller } from './GapFiller.js';
import { InboundEdus } from './InboundEdus.js';
import type { SignedPdu } from './PduChecker.js';
import { PduIngest } from './PduIngest.js';
import { parsePdu } from './PduFormat.js';
import { isJsonObject } from '../../http/RequestReader.js';

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
    // What may wait (a room being joined, key fetches, signature checks) is done for every PDU first.
    const prepared: PreparedPdu[] = [];
    for (const raw of pdus) prepared.push(await this.prepare(origin, raw));
    // Within the sender's usual request timeout (30 s), whatever the gaps cost.
    const budget = { gaps: MAX_GAPS_PER_TXN, deadline: Date.now() + TXN_GAP_DEADLINE_MS };
    let next = 0;
    while (next < prepared.length) {
      next = this.storeRun(origin, prepared, next, response);
      if (next === prepared.length) break;
      const { id, result } = await this.receiveOne(origin, prepared[next]!, budget);
      response.pdus[id] = result;
      next += 1;
    }
    for (const edu of edus) this.edus.receive(origin, edu);
    this.s.put.run(origin, txnId, JSON.stringify(response), Date.now());
    return response;
  }

  /** A PDU's checks that need nothing of the room's state, awaited before any PDU of the transaction is stored. */
  private async prepare(origin: string, raw: unknown): Promise<PreparedPdu> {
    const { events } = this.hs;
    const roomId = isJsonObject(raw) && typeof raw['room_id'] === 'string' ? raw['room_id'] : '';
    // A resident server sends a room's events as soon as it has our join, maybe before we stored the room.
    if (!events.room(roomId)) await this.hs.remoteMembership?.joinSettled(roomId);
    const version = events.room(roomId)?.room_version;
    // Without a known room there is no version to compute the id with: the v4+ id form is the same for
    // every supported version, so any of them names the PDU in the error entry.
    const idVersion = version !== undefined && isSupportedRoomVersion(version) ? version : '10';
    const parsed = parsePdu(idVersion, raw);
    if (!parsed.ok) return { answer: this.fail(origin, isJsonObject(raw) && typeof raw['event_id'] === 'string' ? raw['event_id'] : '', parsed.reason) };
    const eventId = parsed.event.event_id;
    if (version === undefined || !isSupportedRoomVersion(version)) return { answer: this.fail(origin, eventId, `Unknown room ${roomId}`) };
    const stored = events.pduEntry(eventId);
    // Only what will be checked: not an event stored before, nor one of a room with no local member
    // (OutOfBandMembership checks those), nor one the server ACL turns away.
    const checked = this.joinedHere(roomId) && roomAllows(events, roomId, origin) && (!stored || stored.status === 'outlier');
    return { raw, roomId, version, event: parsed.event, signed: checked ? await this.ingest.checkSignatures(version, raw) : null };
  }

  /**
   * Stores PDUs from `from` on, in order, in one write() (one commit), each in a savepoint of it so a
   * PDU that fails undoes only itself; stops before the first that needs a request (a gap, a room this
   * server is not in). Returns that PDU's index. Listeners hear of the events after the commit.
   */
  private storeRun(origin: string, prepared: PreparedPdu[], from: number, response: SendResponse): number {
    const { events } = this.hs;
    const answers: Array<{ id: string; result: PduResult }> = [];
    const end = events.write(() => {
      for (let i = from; i < prepared.length; i++) {
        const p = prepared[i]!;
        if ('answer' in p) {
          answers.push(p.answer);
          continue;
        }
        let answer: { id: string; result: PduResult } | null;
        try {
          answer = events.write(() => this.storeNow(origin, p));
        } catch (err) {
          this.hs.logger.error({ err, origin, eventId: p.event.event_id }, 'federation: received PDU could not be stored');
          answer = this.fail(origin, p.event.event_id, `Could not be stored: ${(err as Error).message}`);
        }
        if (answer === null) return i;
        answers.push(answer);
      }
      return prepared.length;
    });
    for (const { id, result } of answers) response.pdus[id] = result;
    return end;
  }

  /** A PDU checked and stored now, in the running write(); null when it needs the way that may wait (receiveOne). */
  private storeNow(origin: string, p: Pending): { id: string; result: PduResult } | null {
    const { events } = this.hs;
    const { roomId, version, event } = p;
    if (!this.joinedHere(roomId)) return null;
    if (!roomAllows(events, roomId, origin)) return this.fail(origin, event.event_id, `${origin} is denied by the server ACL of room ${roomId}`);
    const known = events.pduEntry(event.event_id);
    if (known && known.status !== 'outlier') return { id: event.event_id, result: {} };
    if (p.signed === null) return null;
    if (p.signed.outcome === 'dropped') return this.fail(origin, event.event_id, p.signed.reason);
    if (!event.prev_events.every((prev) => this.ingest.inTimeline(roomId, prev))) return null;
    const stateBefore = this.ingest.stateFromPrevs(roomId, version, event.prev_events);
    const result = this.ingest.storeSigned(origin, roomId, version, p.raw, event.event_id, p.signed, stateBefore);
    return result.stored ? { id: event.event_id, result: {} } : this.fail(origin, event.event_id, result.error);
  }

  /** A PDU that needs requests of its own: a room this server is not in, or prev_events unknown here (a gap). */
  private async receiveOne(origin: string, p: PreparedPdu, budget: { gaps: number; deadline: number }): Promise<{ id: string; result: PduResult }> {
    if ('answer' in p) return p.answer;
    const { events } = this.hs;
    const { roomId, version, event, raw } = p;
    const eventId = event.event_id;
    if (!this.joinedHere(roomId)) {
      // A local user's knock turned away or invite withdrawn is the one event of such a room taken.
      const ended = await receiveOutOfBandMembership(this.hs, this.fed, origin, version, event, raw);
      if (ended === null) return this.fail(origin, eventId, `${this.hs.serverName} is not in room ${roomId}`);
      return ended.error === undefined ? { id: eventId, result: {} } : this.fail(origin, eventId, ended.error);
    }
    if (!roomAllows(events, roomId, origin)) return this.fail(origin, eventId, `${origin} is denied by the server ACL of room ${roomId}`);
    // An outlier (known from an auth chain) may still join the timeline; anything else stored is done with.
    const known = events.pduEntry(eventId);
    if (known && known.status !== 'outlier') return { id: eventId, result: {} };
    // A gap is filled only for a PDU whose signature holds: a forged one must not make this server send any request.
    const signed = p.signed ?? (await this.ingest.checkSignatures(version, raw));
    if (signed.outcome === 'dropped') return this.fail(origin, eventId, signed.reason);

    let stateBefore: StateIds | null = null;
    const unknownPrev = event.prev_events.find((prev) => !this.ingest.inTimeline(roomId, prev));
    if (unknownPrev !== undefined) {
      // A gap: filled from the origin, a few per transaction (each may take several requests).
      if (budget.gaps <= 0) return this.fail(origin, eventId, `prev_event ${unknownPrev} is not known here (no more gaps filled in this transaction)`);
      budget.gaps -= 1;
      try {
        stateBefore = await this.gaps.fill(origin, roomId, version, event, budget.deadline);
      } catch (err) {
        return this.fail(origin, eventId, `prev_event ${unknownPrev} is not known here and the gap could not be filled: ${(err as Error).message}`);
      }
      // Another transaction may have stored it meanwhile.
      const now = events.pduEntry(eventId);
      if (now && now.status !== 'outlier') return { id: eventId, result: {} };
    }
    const result = this.ingest.storeSigned(origin, roomId, version, raw, eventId, signed, stateBefore ?? this.ingest.stateFromPrevs(roomId, version, event.prev_events));
    return result.stored ? { id: eventId, result: {} } : this.fail(origin, eventId, result.error);
  }

  private joinedHere(roomId: string): boolean {
    return this.hs.events.members(roomId, 'join').some((m) => domainOf(m.user_id) === this.hs.serverName);
  }

  private fail(origin: string, id: string, error: string): { id: string; result: PduResult } {
    this.hs.logger.info({ origin, eventId: id, reason: error }, 'federation: received PDU not taken');
    return { id, result: { error } };
  }
}

/** A PDU of the transaction after prepare(): answered already, or its room, event and signature check (null: not done). */
interface Pending {
  raw: unknown;
  roomId: string;
  version: RoomVersion;
  event: RoomEvent;
  signed: SignedPdu | null;
}
type PreparedPdu = { answer: { id: string; result: PduResult } } | Pending;

function validateBody(origin: string, body: unknown): { pdus: unknown[]; edus: unknown[] } {
  if (!isJsonObject(body)) throw new MatrixError(400, 'M_BAD_JSON', 'The transaction must be a JSON object');
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
