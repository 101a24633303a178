// A received PDU names prev_events this server lacks (docs/federation.md#receiving): ask its origin for
// the events in between (POST get_missing_events: earliest = our forward extremities, latest = the PDU),
// check and store them oldest first. Where the gap stays open, fetch the state before the first event
// past it (GET /state_ids, then /event/{id} for a few missing events or /state for many, /event_auth for
// missing auth events), keep that state as outliers and judge the event against it: the timeline then has
// a hole, the state does not. Everything is bounded, as the peer may be hostile: one get_missing_events
// of GAP_LIMITS.missingEvents, at most two state fetches, and a deadline for the whole.
import type { HomeserverContext } from '../../HomeserverContext.js';
import type { RoomVersion } from '../../rooms/RoomVersions.js';
import { stateKeyOf, type RoomEvent } from '../eventauth/RoomState.js';
import type { Federation } from '../Federation.js';
import type { StateIds } from '../stateres/StateResolutionV2.js';
import { checkFetchedEvents, missingAuthEvents } from './FetchedEvents.js';
import { parsePdu } from './PduFormat.js';
import type { PduIngest } from './PduIngest.js';
import { isJsonObject } from '../../http/RequestReader.js';

export const GAP_LIMITS = {
  /** Events asked of get_missing_events (the spec's default). */
  missingEvents: 10,
  /** State and auth chain ids taken from one /state_ids answer. */
  stateIds: 10_000,
  /** Missing state events fetched one by one with /event; more are fetched with one /state. */
  singleFetches: 10,
  /** State fetches for one gap: the first event past it, and the received PDU itself. */
  stateFetches: 2,
  /** The whole of one gap, all requests included. */
  deadlineMs: 20_000,
};

const enc = encodeURIComponent;
const stringList = (v: unknown, max: number): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').slice(0, max) : []);

export class GapError extends Error {}

export class GapFiller {
  constructor(
    private readonly hs: HomeserverContext,
    private readonly fed: Federation,
    private readonly ingest: PduIngest,
  ) {}

  /**
   * Fills the gap before `event` (its prev_events unknown here) from `origin`. Returns the state before
   * `event` when it had to be fetched (the gap stayed open), null when its prev_events are now known.
   * Throws GapError when neither worked. `until`: a deadline of the caller's (its transaction's).
   */
  async fill(origin: string, roomId: string, version: RoomVersion, event: RoomEvent, until = Infinity): Promise<StateIds | null> {
    const deadline = Math.min(Date.now() + GAP_LIMITS.deadlineMs, until);
    let stateFetches = 0;
    const fetched = await this.missingEvents(origin, roomId, version, event, deadline);
    for (const { raw, ev } of fetched) {
      if (this.ingest.inTimeline(roomId, ev.event_id) || this.hs.events.pduEntry(ev.event_id)?.status === 'rejected') continue;
      let stateBefore: StateIds;
      if (ev.prev_events.every((p) => this.ingest.inTimeline(roomId, p))) stateBefore = this.ingest.stateFromPrevs(roomId, version, ev.prev_events);
      else if (stateFetches < GAP_LIMITS.stateFetches - 1) {
        stateFetches += 1;
        const state = await this.stateAt(origin, roomId, version, ev.event_id, deadline).catch((err: Error) => {
          this.hs.logger.info({ origin, roomId, eventId: ev.event_id, reason: err.message }, 'federation: state for a gap not fetched');
          return null;
        });
        if (!state) continue;
        stateBefore = state;
      } else continue;
      const result = await this.ingest.checkAndStore(origin, roomId, version, raw, ev.event_id, stateBefore);
      if (!result.stored) this.hs.logger.info({ origin, roomId, eventId: ev.event_id, reason: result.error }, 'federation: fetched missing event not taken');
    }
    if (event.prev_events.every((p) => this.ingest.inTimeline(roomId, p))) return null;
    return this.stateAt(origin, roomId, version, event.event_id, deadline);
  }

  /** get_missing_events from the origin: the events between our extremities and `event`, oldest first. */
  private async missingEvents(origin: string, roomId: string, version: RoomVersion, event: RoomEvent, deadline: number): Promise<Array<{ raw: unknown; ev: RoomEvent }>> {
    const extremities = this.hs.events.forwardExtremities(roomId);
    const body = {
      earliest_events: extremities,
      latest_events: [event.event_id],
      limit: GAP_LIMITS.missingEvents,
      // The other side's branch may be far shallower than ours (it sent less during a split): no depth
      // bound; `limit` keeps the answer short, and earliest_events stops the walk at what we have.
      min_depth: 0,
    };
    let answer: unknown;
    try {
      answer = await this.fed.client.request(origin, 'POST', `/_matrix/federation/v1/get_missing_events/${enc(roomId)}`, body, this.limits(deadline));
    } catch (err) {
      this.hs.logger.info({ origin, roomId, eventId: event.event_id, reason: (err as Error).message }, 'federation: get_missing_events failed');
      return [];
    }
    const list = isJsonObject(answer) && Array.isArray(answer['events']) ? answer['events'].slice(0, GAP_LIMITS.missingEvents) : [];
    const out: Array<{ raw: unknown; ev: RoomEvent }> = [];
    for (const raw of list) {
      const parsed = parsePdu(version, raw);
      if (parsed.ok && parsed.event.room_id === roomId && parsed.event.event_id !== event.event_id) out.push({ raw, ev: parsed.event });
    }
    return out.sort((a, b) => a.ev.depth - b.ev.depth);
  }

  /** The state before `eventId` as the origin has it, its events checked and stored as outliers. */
  private async stateAt(origin: string, roomId: string, version: RoomVersion, eventId: string, deadline: number): Promise<StateIds> {
    const { events } = this.hs;
    const ids = await this.fed.client.request(origin, 'GET', `/_matrix/federation/v1/state_ids/${enc(roomId)}?event_id=${enc(eventId)}`, undefined, this.limits(deadline));
    if (!isJsonObject(ids)) throw new GapError(`${origin} gave no state ids at ${eventId}`);
    const stateIds = stringList(ids['pdu_ids'], GAP_LIMITS.stateIds);
    const authIds = stringList(ids['auth_chain_ids'], GAP_LIMITS.stateIds);
    const known = (id: string): boolean => events.pduEntry(id) !== null;
    const missing = [...new Set([...stateIds, ...authIds])].filter((id) => !known(id));
    let raws: unknown[] = [];
    if (missing.length > GAP_LIMITS.singleFetches) {
      const state = await this.fed.client.request(origin, 'GET', `/_matrix/federation/v1/state/${enc(roomId)}?event_id=${enc(eventId)}`, undefined, this.limits(deadline));
      if (isJsonObject(state)) raws = [...(Array.isArray(state['pdus']) ? state['pdus'] : []), ...(Array.isArray(state['auth_chain']) ? state['auth_chain'] : [])];
    } else {
      for (const id of missing) {
        const one = await this.fed.client.request(origin, 'GET', `/_matrix/federation/v1/event/${enc(id)}`, undefined, this.limits(deadline));
        if (isJsonObject(one) && Array.isArray(one['pdus']) && one['pdus'].length > 0) raws.push(one['pdus'][0]);
      }
    }
    if (missingAuthEvents(raws, version, known).length > 0) {
      const chain = await this.fed.client.request(origin, 'GET', `/_matrix/federation/v1/event_auth/${enc(roomId)}/${enc(eventId)}`, undefined, this.limits(deadline));
      if (isJsonObject(chain) && Array.isArray(chain['auth_chain'])) raws.push(...chain['auth_chain'].slice(0, GAP_LIMITS.stateIds));
    }
    const checked = await checkFetchedEvents(version, roomId, raws, (s, k, ts) => this.fed.remoteKeys.verifyKey(s, k, ts), {
      get: (id) => {
        const entry = events.pduEntry(id);
        return entry && entry.status !== 'rejected' ? entry.event : undefined;
      },
      isRejected: (id) => events.pduEntry(id)?.status === 'rejected',
    });
    events.write(() => {
      for (const [id, { pdu }] of checked) events.storeRemote({ eventId: id, pdu, status: 'outlier' });
    });
    const state: StateIds = new Map();
    for (const id of stateIds) {
      const entry = events.pduEntry(id);
      if (!entry || entry.status === 'rejected' || entry.event.room_id !== roomId || entry.event.state_key === undefined) continue;
      state.set(stateKeyOf(entry.event.type, entry.event.state_key), id);
    }
    if (!state.has(stateKeyOf('m.room.create', ''))) throw new GapError(`${origin} gave no usable state at ${eventId}`);
    this.hs.logger.info({ origin, roomId, eventId, state: state.size, fetched: checked.size }, 'federation: fetched the state before a gap');
    return state;
  }

  private limits(deadline: number): { timeoutMs: number } {
    const left = deadline - Date.now();
    if (left <= 0) throw new GapError('Filling the gap took too long');
    return { timeoutMs: Math.min(left, 10_000) };
  }
}
