// The read endpoints a server in a room uses to fill gaps in its copy: one event, the state (or its ids)
// before an event, an event's auth chain, backfill and get_missing_events. Only a server with a joined
// member in the room may read it; an event it may not see by the room's history visibility then is
// handed over redacted, and the state at such an event is refused (ServerVisibility).
import type { HomeserverContext } from '../../HomeserverContext.js';
import { MatrixError } from '../../MatrixError.js';
import type { RoomEvent } from '../eventauth/RoomState.js';
import { requireRoomAllows } from '../acl/RoomServerAcl.js';
import { domainOf } from '../eventauth/RoomState.js';
import type { Pdu } from '../pdu/Pdu.js';
import { authChainOf } from './RoomGraph.js';
import { pduForServer, serverMaySee } from './ServerVisibility.js';

/** The most events one backfill or get_missing_events answer carries. */
export const MAX_EVENTS_PER_READ = 100;

export function requireServerInRoom(hs: HomeserverContext, origin: string, roomId: string): void {
  if (!hs.events.room(roomId)) throw new MatrixError(404, 'M_NOT_FOUND', `Unknown room ${roomId}`);
  if (!hs.events.members(roomId, 'join').some((m) => domainOf(m.user_id) === origin)) {
    throw new MatrixError(403, 'M_FORBIDDEN', `${origin} is not in room ${roomId}`);
  }
  requireRoomAllows(hs.events, roomId, origin);
}

/** A stored, not rejected event of a room a server may read; 404 otherwise. */
export function readableEvent(hs: HomeserverContext, origin: string, eventId: string, roomId?: string): RoomEvent {
  const entry = hs.events.pduEntry(eventId);
  if (!entry || entry.status === 'rejected' || (roomId !== undefined && entry.event.room_id !== roomId)) {
    throw new MatrixError(404, 'M_NOT_FOUND', `Unknown event ${eventId}`);
  }
  requireServerInRoom(hs, origin, entry.event.room_id);
  return entry.event;
}

export function transactionOf(hs: HomeserverContext, pdus: Pdu[]): { origin: string; origin_server_ts: number; pdus: Pdu[] } {
  return { origin: hs.serverName, origin_server_ts: Date.now(), pdus };
}

/**
 * The room's state before a timeline event (its own entry, for a state event, is what it replaced), for a
 * server that may see that event by the room's history visibility (403 otherwise: the state at an event
 * tells who was in the room and what it was called then).
 */
export function stateBeforeEvent(hs: HomeserverContext, origin: string, roomId: string, eventId: string): { state: RoomEvent[]; authChain: RoomEvent[] } {
  const event = readableEvent(hs, origin, eventId, roomId);
  if (!serverMaySee(hs.events, origin, event)) {
    throw new MatrixError(403, 'M_FORBIDDEN', `${origin} may not see the room at ${eventId} (history visibility)`);
  }
  const stored = hs.events.event(eventId);
  if (!stored) throw new MatrixError(404, 'M_NOT_FOUND', `The state at ${eventId} is not known here`);
  // The state recorded for the event in the graph; for an event from before those records, in stream order.
  const groups = hs.events.stateGroups.ofEvent(eventId);
  const ids = groups ? [...hs.events.stateGroups.state(groups.before).values()] : [...hs.events.stateMapAt(roomId, stored.pos - 1).values()].map((e) => e.event_id);
  const state: RoomEvent[] = [];
  for (const id of ids) {
    const entry = hs.events.pduEntry(id);
    if (entry) state.push(entry.event);
  }
  return { state, authChain: authChainOf(hs.events, state) };
}

/** The events as the server may have them (history visibility: ServerVisibility). */
export function pdusForServer(hs: HomeserverContext, origin: string, list: Iterable<RoomEvent>): Pdu[] {
  const out: Pdu[] = [];
  for (const e of list) {
    const pdu = pduForServer(hs.events, origin, e);
    if (pdu) out.push(pdu);
  }
  return out;
}

/** Events before `from` (included) through prev_events, newest first, at most `limit`. */
export function backfill(hs: HomeserverContext, origin: string, roomId: string, from: string[], limit: number): Pdu[] {
  const start = from.map((id) => readableEvent(hs, origin, id, roomId));
  return pdusForServer(hs, origin, walkPrevEvents(hs, start, new Set(), Math.min(limit, MAX_EVENTS_PER_READ), true));
}

/** get_missing_events: the events between `earliest` and `latest` (both excluded), oldest first. */
export function missingEvents(hs: HomeserverContext, origin: string, roomId: string, earliest: string[], latest: string[], limit: number, minDepth: number): Pdu[] {
  const start = latest.map((id) => readableEvent(hs, origin, id, roomId));
  const found = walkPrevEvents(hs, start, new Set([...earliest, ...latest]), Math.min(limit, MAX_EVENTS_PER_READ), false).filter((e) => e.depth >= minDepth);
  return pdusForServer(hs, origin, found.reverse());
}

function walkPrevEvents(hs: HomeserverContext, start: RoomEvent[], stop: Set<string>, limit: number, includeStart: boolean): RoomEvent[] {
  const out: RoomEvent[] = [];
  const seen = new Set<string>(start.map((e) => e.event_id));
  // Deepest first, so the answer is the part of the graph nearest to where the reader stands.
  const queue: RoomEvent[] = includeStart ? [...start] : [];
  const enqueue = (e: RoomEvent): void => {
    for (const id of e.prev_events) {
      if (seen.has(id) || stop.has(id)) continue;
      seen.add(id);
      const entry = hs.events.pduEntry(id);
      if (entry && entry.status !== 'rejected' && entry.event.room_id === e.room_id) queue.push(entry.event);
    }
  };
  if (!includeStart) start.forEach(enqueue);
  while (queue.length > 0 && out.length < limit) {
    queue.sort((a, b) => b.depth - a.depth);
    const next = queue.shift()!;
    out.push(next);
    enqueue(next);
  }
  return out;
}
