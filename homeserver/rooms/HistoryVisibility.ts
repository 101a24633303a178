// Who may read which events of a room (spec: Client-Server API, "Room History Visibility"). Every path
// that hands room events or state to a user asks here. An event is judged by the room's state just
// before it, with the spec's special cases for the changes themselves:
//   1. world_readable then: visible to anyone;
//   2. the reader was joined then: visible;
//   3. shared then, and the reader joined at some point after the event: visible;
//   4. invited then, and the reader was invited then: visible;
//   otherwise not. A change of m.room.history_visibility is visible if the setting before or after it
//   allows; the reader's own membership events are always visible to them.
import { MatrixError } from '../MatrixError.js';
import type { Requester } from '../contracts.js';
import type { EventStore, MembershipRow } from '../events/EventStore.js';
import type { StoredEvent } from '../events/StoredEvent.js';
import { HISTORY_START, StreamRanges, type StreamRange } from '../events/StreamRanges.js';

export type HistoryVisibilityValue = 'world_readable' | 'shared' | 'invited' | 'joined';

const KNOWN = new Set<string>(['world_readable', 'shared', 'invited', 'joined']);
const HISTORY_VISIBILITY = 'm.room.history_visibility';

/** The setting an m.room.history_visibility content stands for: a missing or unknown value means shared. */
export function visibilityOf(content: Record<string, unknown> | undefined): HistoryVisibilityValue {
  const v = content?.['history_visibility'];
  return typeof v === 'string' && KNOWN.has(v) ? (v as HistoryVisibilityValue) : 'shared';
}

/** One change of a piece of state: where in the stream, and the value from then on. */
export interface StateChange {
  pos: number;
  value: string;
}

function allowed(visibility: string, membership: string, joinsLater: boolean): boolean {
  return (
    visibility === 'world_readable' ||
    membership === 'join' ||
    (visibility === 'shared' && joinsLater) ||
    (visibility === 'invited' && membership === 'invite')
  );
}

/**
 * The rules applied to a whole room at once. Between two changes (of the visibility, or of the reader's
 * membership) the state before every event is the same, so each stretch is visible or not as a whole and
 * only the changes need a look of their own. `visibility` holds history_visibility settings (see
 * visibilityOf), `membership` the reader's memberships; both in stream order.
 */
export function readableRanges(visibility: StateChange[], membership: StateChange[]): StreamRanges {
  const changes = [
    ...visibility.map((c) => ({ ...c, own: false })),
    ...membership.map((c) => ({ ...c, own: true })),
  ].sort((a, b) => a.pos - b.pos);
  const lastJoin = membership.reduce((p, c) => (c.value === 'join' ? Math.max(p, c.pos) : p), -Infinity);
  const out: StreamRange[] = [];
  let hv = 'shared';
  let member = 'leave';
  let after = HISTORY_START;
  for (const c of changes) {
    // (after, c.pos] is judged by the state after the previous change. Joins are changes, so "joined at
    // some point after the event" holds for the whole stretch when any join lies beyond its start.
    if (allowed(hv, member, lastJoin > after)) out.push({ after, upTo: c.pos });
    else if (c.own || allowed(c.value, member, lastJoin > c.pos)) out.push({ after: c.pos - 1, upTo: c.pos });
    if (c.own) member = c.value;
    else hv = c.value;
    after = c.pos;
  }
  if (allowed(hv, member, false)) out.push({ after, upTo: Infinity });
  return StreamRanges.fromSorted(out);
}

/** What one user may read of one room. Cheap to make: history is looked at only when a read needs it. */
export class RoomReader {
  private ranges: StreamRanges | null = null;
  private memberships: StateChange[] | null = null;

  constructor(
    private readonly events: EventStore,
    readonly roomId: string,
    readonly userId: string,
    /** Null for someone never in the room, or who forgot it: their memberships then count for nothing. */
    private readonly row: MembershipRow | null,
  ) {}

  /** Positions of the events the user may see within (after, upTo], oldest first. */
  visible(after: number, upTo: number): StreamRange[] {
    if (after >= this.seesAllFrom - 1) return after < upTo ? [{ after, upTo }] : [];
    return this.all().within(after, upTo);
  }

  /** The event, if it is in this room and the user may see it; otherwise 404. */
  event(eventId: string): StoredEvent {
    const ev = this.events.event(eventId);
    if (!ev || ev.room_id !== this.roomId || !this.canSee(ev)) throw new MatrixError(404, 'M_NOT_FOUND', 'Event not found');
    return ev;
  }

  canSee(ev: { pos: number }): boolean {
    return ev.pos >= this.seesAllFrom || this.all().contains(ev.pos);
  }

  /**
   * The last position whose whole room state the user may read: the present for members and in rooms that
   * are world-readable now, the moment they left for former members, null for anyone else.
   */
  stateUpTo(): number | null {
    const m = this.row?.membership;
    if (m === 'join' || this.worldReadableNow()) return Infinity;
    if ((m === 'leave' || m === 'ban') && this.membershipHistory().some((c) => c.value === 'join')) return this.row!.pos;
    return null;
  }

  /** A state event is readable as state up to stateUpTo(), and beyond it when the event itself is visible. */
  maySeeState(ev: { pos: number }): boolean {
    const upTo = this.stateUpTo();
    return (upTo !== null && ev.pos <= upTo) || this.canSee(ev);
  }

  /** A joined member sees everything from their latest membership event on, without any history. */
  private get seesAllFrom(): number {
    return this.row?.membership === 'join' ? this.row.pos : Infinity;
  }

  private worldReadableNow(): boolean {
    return visibilityOf(this.events.stateEvent(this.roomId, HISTORY_VISIBILITY, '')?.content) === 'world_readable';
  }

  private membershipHistory(): StateChange[] {
    if (this.memberships === null) {
      this.memberships = this.row
        ? this.events.stateHistory(this.roomId, 'm.room.member', this.userId).map((c) => ({ pos: c.pos, value: String(c.content['membership']) }))
        : [];
    }
    return this.memberships;
  }

  private all(): StreamRanges {
    if (this.ranges === null) {
      const visibility = this.events
        .stateHistory(this.roomId, HISTORY_VISIBILITY, '')
        .map((c) => ({ pos: c.pos, value: visibilityOf(c.content) }));
      this.ranges = readableRanges(visibility, this.membershipHistory());
    }
    return this.ranges;
  }
}

export class HistoryVisibility {
  constructor(
    private readonly events: EventStore,
    /** The appservice whose namespace holds a user, if any. */
    private readonly appserviceOf: (userId: string) => string | null,
  ) {}

  /**
   * What the user may read of the room's events. Anyone who is or was in the room (invited, joined, left,
   * banned) gets a reader that shows what the rules allow; anyone else, or who forgot the room, only while
   * the room is world-readable: otherwise 403.
   */
  reader(userId: string, roomId: string): RoomReader {
    const m = this.events.membership(roomId, userId);
    const row = m && m.forgotten === 0 ? m : null;
    const reader = new RoomReader(this.events, roomId, userId, row);
    if (!row && reader.stateUpTo() === null) throw notInRoom(userId, roomId);
    return reader;
  }

  /** The reader for a room from the user's own membership list (sync), which needs no gate. */
  readerOf(row: MembershipRow): RoomReader {
    return new RoomReader(this.events, row.room_id, row.user_id, row.forgotten === 0 ? row : null);
  }

  /** An event the user may see, or 404 (403 when they may read nothing of the room). */
  visibleEvent(userId: string, roomId: string, eventId: string): StoredEvent {
    return this.reader(userId, roomId).event(eventId);
  }

  /** The position up to which the user may read the room's state (see RoomReader.stateUpTo), or 403. */
  stateUpTo(userId: string, roomId: string): number {
    const upTo = this.reader(userId, roomId).stateUpTo();
    if (upTo === null) throw notInRoom(userId, roomId);
    return upTo;
  }

  /**
   * GET /joined_members (spec): the requester must be in the room, or be an appservice one of whose users
   * is. A world-readable room shows its members to anyone, as its state.
   */
  checkJoinedMembersAccess(r: Requester, roomId: string, joined: string[]): void {
    if (joined.includes(r.userId)) return;
    if (r.appserviceId !== null && joined.some((u) => this.appserviceOf(u) === r.appserviceId)) return;
    if (this.reader(r.userId, roomId).stateUpTo() === Infinity) return;
    throw new MatrixError(403, 'M_FORBIDDEN', `User ${r.userId} is not in room ${roomId}`);
  }
}

function notInRoom(userId: string, roomId: string): MatrixError {
  return new MatrixError(403, 'M_FORBIDDEN', `User ${userId} is not in room ${roomId}`);
}
