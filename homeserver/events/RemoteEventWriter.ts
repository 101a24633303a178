// Storing events made by other servers (docs/federation.md#receiving): a room joined through another
// server, an invite from elsewhere, a PDU checked on receipt, and history fetched from a peer. It writes
// through EventStore's own rows (EventRows), in the caller's write() transaction, and keeps the state at
// each timeline event (StateGroups) and the room's current state.
import { stateKeyOf, type RoomEvent } from '../federation/eventauth/RoomState.js';
import type { Pdu } from '../federation/pdu/Pdu.js';
import { currentStateAfter } from '../federation/receive/RemoteEventState.js';
import type { StateIds } from '../federation/stateres/StateResolutionV2.js';
import { isSupportedRoomVersion } from '../rooms/RoomVersions.js';
import type { ForwardExtremities } from './ForwardExtremities.js';
import type { PduTable } from './PduTable.js';
import { storedEventOf } from './RemoteStoredEvent.js';
import type { StateGroups } from './StateGroups.js';
import type { StoredEvent } from './StoredEvent.js';

/** A signed PDU under its event id. */
export interface SignedRemote {
  eventId: string;
  pdu: Pdu;
}

/** A PDU from another server, checked on receipt (PduChecker), and how to keep it. */
export type RemotePdu = { eventId: string; pdu: Pdu } & (
  /** Part of the room: in the timeline and, for a state event, its state (`stateBefore`: the state before it). */
  | { status: 'timeline'; stateBefore: StateIds }
  | { status: 'outlier' | 'soft_failed' }
  | { status: 'rejected'; reason: string }
);

export interface RoomRef {
  roomId: string;
  version: string;
  creator: string;
}

/** What the writer needs of EventStore: its statements, inside its running write(). */
export interface EventRows {
  requireWrite(what: string): void;
  nextPos(): number;
  /** A position below every stored event: history fetched from elsewhere, never announced as new. */
  historicPos(): number;
  insert(ev: StoredEvent): void;
  /** Moves a row (and the state and membership rows naming it) to another position. */
  move(eventId: string, pos: number): void;
  /** Whether the room has a row of this state key, at any position. */
  hasStateRow(roomId: string, type: string, stateKey: string): boolean;
  /** Runs the indexers on a new event and tells the listeners after the commit. */
  announce(ev: StoredEvent): void;
  setState(ev: StoredEvent): void;
  event(eventId: string): StoredEvent | null;
  roomVersion(roomId: string): string | undefined;
  ensureRoom(room: RoomRef): void;
  stateIds(roomId: string): StateIds;
}

export class RemoteEventWriter {
  constructor(
    private readonly rows: EventRows,
    private readonly pdus: PduTable,
    private readonly extremities: ForwardExtremities,
    private readonly groups: StateGroups,
  ) {}

  /**
   * A room this server joins through another server (send_join's answer, already checked): the room, its
   * auth chain as outliers, its state as state only (outliers with a row in the events table below
   * position 0, which is what the room's state is read from, but outside every timeline: the history
   * before the join comes from backfill; an event already there stays), then the join in the timeline
   * with that state before it. A state key the room already has a row of (a room left and joined again)
   * gets its new value after the room's events, in the timeline, so the state read by position stays right.
   */
  storeJoinedRoom(room: RoomRef, join: SignedRemote, state: SignedRemote[], authChain: SignedRemote[]): StoredEvent {
    this.rows.requireWrite('storeJoinedRoom');
    this.rows.ensureRoom(room);
    const stateIds = new Set(state.map((s) => s.eventId));
    for (const a of authChain) if (!stateIds.has(a.eventId) && !this.pdus.entry(a.eventId)) this.pdus.put(a.eventId, a.pdu, 'outlier', null);
    const stateBefore: StateIds = new Map();
    for (const s of [...state].sort((x, y) => x.pdu.depth - y.pdu.depth)) {
      const key = stateKeyOf(s.pdu.type, s.pdu.state_key ?? '');
      stateBefore.set(key, s.eventId);
      const known = this.rows.event(s.eventId);
      if (known) this.rows.setState(known);
      else if (this.rows.hasStateRow(room.roomId, s.pdu.type, s.pdu.state_key ?? '')) this.rows.setState(this.insertRow(room.version, s, this.rows.nextPos(), true));
      else this.rows.setState(this.insertStateOnly(room.version, s));
    }
    // The room's graph continues from the join: the state's events are not extremities of this server.
    const stored = this.storeRemote({ eventId: join.eventId, pdu: join.pdu, status: 'timeline', stateBefore });
    if (!stored) throw new Error(`Join ${join.eventId} was stored before`);
    return stored;
  }

  /**
   * An invite of a local user to a room this server is not in (invite v2 from the inviting server), or a
   * local user's knock on such a room (send_knock through a resident server): the room when unknown, the invite as the invitee's membership (an outlier of the room's graph: not an
   * extremity). `pdu.unsigned.invite_room_state` is what sync shows of the room.
   */
  storeInvite(room: RoomRef, invite: SignedRemote): StoredEvent {
    this.rows.requireWrite('storeInvite');
    this.rows.ensureRoom(room);
    const known = this.rows.event(invite.eventId);
    if (known) return known;
    const stored = this.insertRow(room.version, invite, this.rows.nextPos(), true);
    this.rows.setState(stored);
    this.groups.clearCurrent(room.roomId);
    return stored;
  }

  /**
   * A PDU from another server, already checked on receipt, under its event id. An outlier, soft-failed or
   * rejected event is kept with its status only (returns null; an event stored before is left as it is,
   * except an outlier that now joins the timeline). A timeline event gets a stream position, replaces its
   * prev_events among the forward extremities, the state before and after it is recorded, and the room's
   * current state becomes the state after it, resolved (v2) with the current state when other
   * extremities remain. A state event named there that is only an outlier here (state fetched for a gap)
   * joins the events table below the room's history, so it is part of the state without showing as new.
   */
  storeRemote(r: RemotePdu): StoredEvent | null {
    this.rows.requireWrite('storeRemote');
    const roomId = r.pdu.room_id;
    const version = this.rows.roomVersion(roomId);
    if (version === undefined || !isSupportedRoomVersion(version)) throw new Error(`EventStore.storeRemote to unknown room ${roomId}`);
    const known = this.pdus.entry(r.eventId);
    // A joined room's state-only event stays where it is: its place in the history is backfill's to find.
    if (known && !(known.status === 'outlier' && r.status === 'timeline' && !this.rows.event(r.eventId))) return null;
    this.pdus.put(r.eventId, r.pdu, r.status, r.status === 'rejected' ? r.reason : null);
    if (r.status !== 'timeline') return null;

    const event: RoomEvent = { ...r.pdu, event_id: r.eventId };
    const current = this.rows.stateIds(roomId);
    const replaces = event.state_key === undefined ? null : (current.get(stateKeyOf(event.type, event.state_key)) ?? null);
    const stored = storedEventOf(version, event, this.rows.nextPos(), replaces);
    this.rows.insert(stored);
    const forked = this.extremities.of(roomId, Number.MAX_SAFE_INTEGER).some((x) => !event.prev_events.includes(x.event_id));
    this.extremities.advance(roomId, r.eventId, event.prev_events);
    // Signatures (restricted joins' included) were checked on receipt.
    const ctx = { roomVersion: version, signedBy: () => true };
    const source = { get: (id: string) => this.pdus.entry(id)?.event, isRejected: (id: string) => this.pdus.entry(id)?.status === 'rejected' };
    const next = currentStateAfter(ctx, event, r.stateBefore, current, forked, source);
    for (const [key, id] of next) {
      if (current.get(key) === id) continue;
      this.rows.setState(id === r.eventId ? stored : (this.rows.event(id) ?? this.promoteOutlier(version, id)));
    }
    this.recordState(roomId, event, r.stateBefore, next);
    this.rows.announce(stored);
    return stored;
  }

  /**
   * Events fetched from a peer's history (backfill, already checked): each stored in the timeline below
   * everything the room has here, newest first as given, with no stream position clients or appservices
   * would see as new, and outside the forward extremities and the current state. A state-only event of
   * a joined room found there moves to its place in the history. Returns those stored.
   */
  storeBackfilled(events: SignedRemote[]): StoredEvent[] {
    this.rows.requireWrite('storeBackfilled');
    const out: StoredEvent[] = [];
    for (const e of events) {
      const version = this.rows.roomVersion(e.pdu.room_id);
      if (version === undefined) continue;
      const entry = this.pdus.entry(e.eventId);
      if (entry && entry.status !== 'outlier') continue;
      const stateOnly = this.rows.event(e.eventId);
      if (stateOnly) {
        this.rows.move(e.eventId, this.rows.historicPos());
        this.pdus.put(e.eventId, e.pdu, 'timeline', null);
        out.push(this.rows.event(e.eventId)!);
      } else out.push(this.insertRow(version, e, this.rows.historicPos(), false));
    }
    return out;
  }

  /** The state before and after the event, and the room's new current state, as groups. */
  private recordState(roomId: string, event: RoomEvent, stateBefore: StateIds, current: StateIds): void {
    // Built on the state after its first prev event: a message then costs no new group at all.
    const prevGroup = event.prev_events.length > 0 ? (this.groups.ofEvent(event.prev_events[0]!)?.after ?? null) : null;
    const before = this.groups.create(roomId, stateBefore, prevGroup ?? this.groups.current(roomId));
    const after = event.state_key === undefined ? before : this.groups.withChanges(roomId, before, new Map([[stateKeyOf(event.type, event.state_key), event.event_id]]));
    this.groups.recordEvent(event.event_id, before, after);
    this.groups.setCurrent(roomId, this.groups.create(roomId, current, after));
  }

  private promoteOutlier(version: string, eventId: string): StoredEvent {
    const entry = this.pdus.entry(eventId);
    // A soft-failed event held back here may still be part of the state the room resolves to.
    if (!entry || (entry.status !== 'outlier' && entry.status !== 'soft_failed')) throw new Error(`State event ${eventId} of the room's state is not stored here`);
    const { event_id: _id, ...pdu } = entry.event;
    // An outlier (fetched to cross a gap) becomes state only, as a joined room's state: the room's state
    // names it, but it happened somewhere in the hole, so no timeline has a place for it.
    if (entry.status === 'outlier') {
      const stored = storedEventOf(version, { ...(pdu as Pdu), event_id: eventId }, this.rows.historicPos(), null);
      this.rows.insert(stored);
      return stored;
    }
    return this.insertRow(version, { eventId, pdu: pdu as Pdu }, this.rows.historicPos(), false);
  }

  /** A joined room's state event: an outlier with a row below position 0, which timelines skip (EventStore). */
  private insertStateOnly(version: string, r: SignedRemote): StoredEvent {
    this.pdus.put(r.eventId, r.pdu, 'outlier', null);
    const stored = storedEventOf(version, { ...r.pdu, event_id: r.eventId }, this.rows.historicPos(), null);
    this.rows.insert(stored);
    return stored;
  }

  /** A remote event as a row of the events table, outside the graph's extremities (invites, history). */
  private insertRow(version: string, r: SignedRemote, pos: number, announce: boolean): StoredEvent {
    this.pdus.put(r.eventId, r.pdu, 'timeline', null);
    const stored = storedEventOf(version, { ...r.pdu, event_id: r.eventId }, pos, null);
    this.rows.insert(stored);
    if (announce) this.rows.announce(stored);
    return stored;
  }
}
