// Client GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event
// (docs/homeserver.md#spaces-and-jump-to-date): the event closest to `ts` in direction `dir` that the user
// may see. Other servers of the room are asked (federation/queries/RemoteTimestamp) when this server has
// no such event, or when `ts` is before this server's first member joined a room made elsewhere (the
// history before that is the other servers'). Their answer is taken when it is closer; the event is then
// fetched with backfill if it is not here yet (a few rounds), and given only once it is here and the user
// may see it, so /context works on it.
import type { EventStore } from '../events/EventStore.js';
import { domainOf } from '../federation/eventauth/RoomState.js';
import type { RemoteTimestamp } from '../federation/queries/RemoteTimestamp.js';
import type { RoomBackfill } from '../federation/receive/RoomBackfill.js';
import { MatrixError } from '../MatrixError.js';
import type { EventsByTimestamp, TimedEvent } from './EventsByTimestamp.js';
import type { HistoryVisibility } from './HistoryVisibility.js';

const BACKFILL_ROUNDS = 3;
const BACKFILL_EVENTS = 50;

export interface TimestampAnswer {
  event_id: string;
  origin_server_ts: number;
}

export class TimestampToEvent {
  constructor(
    private readonly serverName: string,
    private readonly events: EventStore,
    private readonly history: HistoryVisibility,
    private readonly index: EventsByTimestamp,
    private readonly remote: { timestamps: RemoteTimestamp; backfill: RoomBackfill | null } | null,
  ) {}

  async find(userId: string, roomId: string, ts: number, dir: 'f' | 'b'): Promise<TimestampAnswer> {
    const reader = this.history.reader(userId, roomId);
    const local = this.index.closest(roomId, ts, dir, (e) => reader.canSee(e));
    const servers = this.otherServers(roomId);
    if (this.remote && servers.length > 0 && (local === null || this.joinedAfter(roomId, ts))) {
      const found = await this.remote.timestamps.closest(roomId, ts, dir, servers);
      if (found && (local === null || Math.abs(found.origin_server_ts - ts) < Math.abs(local.origin_server_ts - ts))) {
        const here = await this.fetched(roomId, found.event_id);
        if (here && this.history.reader(userId, roomId).canSee(here)) return { event_id: here.event_id, origin_server_ts: here.origin_server_ts };
      }
    }
    if (!local) throw new MatrixError(404, 'M_NOT_FOUND', `No event found from ${ts} in the ${dir === 'f' ? 'forward' : 'backward'} direction`);
    return { event_id: local.event_id, origin_server_ts: local.origin_server_ts };
  }

  /** The room's other servers, those with the most joined members first. */
  private otherServers(roomId: string): string[] {
    const counts = new Map<string, number>();
    for (const m of this.events.members(roomId, 'join')) {
      const server = domainOf(m.user_id);
      if (server !== this.serverName) counts.set(server, (counts.get(server) ?? 0) + 1);
    }
    return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([s]) => s);
  }

  /** Whether `ts` is before this server's first join to a room made on another server. */
  private joinedAfter(roomId: string, ts: number): boolean {
    const create = this.events.stateEvent(roomId, 'm.room.create', '');
    if (!create || domainOf(create.sender) === this.serverName) return false;
    let first = Infinity;
    for (const m of this.events.members(roomId)) {
      if (domainOf(m.user_id) !== this.serverName) continue;
      for (const change of this.events.stateHistory(roomId, 'm.room.member', m.user_id)) {
        if (change.content['membership'] !== 'join') continue;
        first = Math.min(first, this.events.eventAt(change.pos)?.origin_server_ts ?? Infinity);
        break;
      }
    }
    return ts < first;
  }

  private async fetched(roomId: string, eventId: string): Promise<TimedEvent | null> {
    let ev = this.events.event(eventId);
    for (let round = 0; !ev && this.remote?.backfill && round < BACKFILL_ROUNDS; round++) {
      if ((await this.remote.backfill.backfill(roomId, BACKFILL_EVENTS)) === 0) break;
      ev = this.events.event(eventId);
    }
    return ev && ev.room_id === roomId ? ev : null;
  }
}
