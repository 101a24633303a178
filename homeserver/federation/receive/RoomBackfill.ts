// Backfill as a client (docs/federation.md#receiving): a local client paging back through /messages has
// reached the start of what this server holds of a room other servers are in. The events its earliest
// events name in prev_events, but which are not here, are asked of a resident server with GET /backfill;
// what comes back is checked (room, signatures, content hash, its own auth events, fetched with
// /event_auth when missing, and the state before it as far as known here: BackfillState) and stored
// below the room's history: /messages shows it, /sync and the
// appservices never see it as new. Bounded: at most BACKFILL_LIMITS.events a call, a few servers, a deadline.
import type { Logger } from 'pino';
import type { EventStore, SignedRemote } from '../../events/EventStore.js';
import { isSupportedRoomVersion, type RoomVersion } from '../../rooms/RoomVersions.js';
import { domainOf, type RoomEvent } from '../eventauth/RoomState.js';
import type { StateIds } from '../stateres/StateResolutionV2.js';
import { rejectedByStateBefore } from './BackfillState.js';
import type { Federation } from '../Federation.js';
import { checkFetchedEvents, missingAuthEvents } from './FetchedEvents.js';
import { parsePdu } from './PduFormat.js';
import { isJsonObject } from '../../http/RequestReader.js';

export const BACKFILL_LIMITS = {
  /** Events asked for in one backfill. */
  events: 50,
  /** The room's earliest events here looked at for prev_events that are missing. */
  scan: 100,
  /** Starting points (v=) of one request. */
  from: 10,
  /** Servers asked in turn. */
  servers: 3,
  /** All requests of one backfill. */
  deadlineMs: 10_000,
};

const enc = encodeURIComponent;

export class RoomBackfill {
  constructor(
    private readonly serverName: string,
    private readonly fed: Federation,
    private readonly events: EventStore,
    private readonly logger: Logger,
  ) {}

  /** Fetches up to `limit` events before the room's earliest here; the number stored (0: nothing more to get). */
  async backfill(roomId: string, limit: number): Promise<number> {
    const version = this.events.room(roomId)?.room_version;
    if (version === undefined || !isSupportedRoomVersion(version) || this.startIsHere(roomId)) return 0;
    const from = this.backwardExtremities(roomId);
    if (from.length === 0) return 0;
    const servers = this.residentServers(roomId);
    const deadline = Date.now() + BACKFILL_LIMITS.deadlineMs;
    const count = Math.min(Math.max(limit, 1), BACKFILL_LIMITS.events);
    const query = `${from.map((id) => `v=${enc(id)}`).join('&')}&limit=${count}`;
    for (const server of servers) {
      try {
        const answer = await this.fed.client.request(server, 'GET', `/_matrix/federation/v1/backfill/${enc(roomId)}?${query}`, undefined, limits(deadline));
        const pdus = isJsonObject(answer) && Array.isArray(answer['pdus']) ? answer['pdus'].slice(0, count) : [];
        const stored = await this.store(server, roomId, version, pdus, deadline);
        this.logger.info({ roomId, server, received: pdus.length, stored }, 'federation: backfilled a room');
        return stored;
      } catch (err) {
        this.logger.info({ roomId, server, reason: (err as Error).message }, 'federation: backfill failed');
      }
    }
    return 0;
  }

  private async store(server: string, roomId: string, version: RoomVersion, pdus: unknown[], deadline: number): Promise<number> {
    const known = (id: string): boolean => this.events.pduEntry(id) !== null;
    const raws = [...pdus];
    // The auth events of older events are often older state this server never had.
    const missing = missingAuthEvents(raws, version, known);
    const authOf = pdus.map((raw) => parsePdu(version, raw)).find((p) => p.ok && p.event.auth_events.some((id) => missing.includes(id)));
    if (authOf?.ok) {
      const chain = await this.fed.client.request(server, 'GET', `/_matrix/federation/v1/event_auth/${enc(roomId)}/${enc(authOf.event.event_id)}`, undefined, limits(deadline));
      if (isJsonObject(chain) && Array.isArray(chain['auth_chain'])) raws.push(...chain['auth_chain'].slice(0, 1000));
    }
    const checked = await checkFetchedEvents(version, roomId, raws, (s, k, ts) => this.fed.remoteKeys.verifyKey(s, k, ts), {
      get: (id) => {
        const entry = this.events.pduEntry(id);
        return entry && entry.status !== 'rejected' ? entry.event : undefined;
      },
      isRejected: (id) => this.events.pduEntry(id)?.status === 'rejected',
    });
    const asked = new Set(pdus.map((raw) => parsePdu(version, raw)).flatMap((p) => (p.ok ? [p.event.event_id] : [])));
    const rejected = this.rejectedByStateBefore(roomId, version, [...checked.values()].filter((c) => asked.has(c.event.event_id)).map((c) => c.event));
    const history: SignedRemote[] = [];
    for (const [eventId, { pdu }] of checked) if (asked.has(eventId) && !rejected.has(eventId)) history.push({ eventId, pdu });
    history.sort((x, y) => y.pdu.depth - x.pdu.depth);
    if (rejected.size > 0) this.logger.warn({ roomId, server, rejected: Object.fromEntries(rejected) }, 'federation: backfilled events rejected by the state before them');
    return this.events.write(() => {
      for (const [eventId, { pdu }] of checked) {
        const reason = rejected.get(eventId);
        if (reason !== undefined) this.events.storeRemote({ eventId, pdu, status: 'rejected', reason });
        else if (!asked.has(eventId)) this.events.storeRemote({ eventId, pdu, status: 'outlier' });
      }
      return this.events.storeBackfilled(history).length;
    });
  }

  /** The backfilled events the state before them rejects (BackfillState), from the room's earliest events here down. */
  private rejectedByStateBefore(roomId: string, version: RoomVersion, batch: RoomEvent[]): Map<string, string> {
    const children: Array<{ event: RoomEvent; stateBefore: StateIds }> = [];
    for (const ev of this.events.earliestEvents(roomId, Number.MIN_SAFE_INTEGER, Infinity, BACKFILL_LIMITS.scan)) {
      const event = this.events.pduEntry(ev.event_id)?.event;
      const groups = this.events.stateGroups.ofEvent(ev.event_id);
      if (event && groups) children.push({ event, stateBefore: this.events.stateGroups.state(groups.before) });
    }
    return rejectedByStateBefore({ roomVersion: version, signedBy: () => true }, batch, {
      children,
      get: (id) => {
        const entry = this.events.pduEntry(id);
        return entry && entry.status !== 'rejected' ? entry.event : undefined;
      },
    });
  }

  /**
   * The room's create event is in its timeline here: the room's history starts here, so there is nothing
   * before it to fetch. A hole inside the history (events a gap was crossed over) has no place below the
   * start, so it stays a hole rather than being filled out of order.
   */
  private startIsHere(roomId: string): boolean {
    const create = this.events.stateEvent(roomId, 'm.room.create', '');
    return create !== null && this.events.pduEntry(create.event_id)?.status === 'timeline';
  }

  /** prev_events of the room's earliest timeline events here that are not in its timeline. */
  private backwardExtremities(roomId: string): string[] {
    const out: string[] = [];
    for (const ev of this.events.earliestEvents(roomId, Number.MIN_SAFE_INTEGER, Infinity, BACKFILL_LIMITS.scan)) {
      for (const prev of this.events.pduEntry(ev.event_id)?.event.prev_events ?? []) {
        // A joined room's state-only event (an outlier) is not yet in the history either.
        const status = this.events.pduEntry(prev)?.status;
        if (!out.includes(prev) && (this.events.event(prev) === null || status === 'outlier') && status !== 'rejected') out.push(prev);
      }
    }
    return out.slice(0, BACKFILL_LIMITS.from);
  }

  /** Servers of the room's joined members other than this one, the room id's server first. */
  private residentServers(roomId: string): string[] {
    const servers = new Set(this.events.members(roomId, 'join').map((m) => domainOf(m.user_id)));
    servers.delete(this.serverName);
    const own = domainOf(roomId);
    return [...servers].sort((x, y) => Number(y === own) - Number(x === own)).slice(0, BACKFILL_LIMITS.servers);
  }
}

function limits(deadline: number): { timeoutMs: number } {
  const left = deadline - Date.now();
  if (left <= 0) throw new Error('Backfill took too long');
  return { timeoutMs: left };
}
