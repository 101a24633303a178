// The events table and what is derived from it in the same transaction: current room state, memberships,
// each event's signed PDU and the room's forward extremities. Every append happens inside write(), which
// is one SQLite transaction; listeners hear about the new events only after it committed.
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import { authStateKeys } from '../federation/eventauth/AuthEventSelection.js';
import type { LocalEventSigner } from '../federation/pdu/LocalEventSigner.js';
import type { Pdu } from '../federation/pdu/Pdu.js';
import type { StateIds } from '../federation/stateres/StateResolutionV2.js';
import { ForwardExtremities } from './ForwardExtremities.js';
import { checkedPduJson, unsignedLocalPdu, type GraphFields } from './LocalPdu.js';
import { PduTable, type PduEntry } from './PduTable.js';
import { RemoteEventWriter, type EventRows, type RemotePdu, type RoomRef, type SignedRemote } from './RemoteEventWriter.js';
import { StateGroups } from './StateGroups.js';
import { eventStatements } from './EventStatements.js';
import type { StreamCounter } from '../storage/StreamCounter.js';
import type { RoomStateView, StateEntry } from '../rooms/RoomStateView.js';
import type { TxnRef } from '../rooms/TxnKey.js';
import { fromRow, stateKeyOf, type EventRow, type StoredEvent } from './StoredEvent.js';

export interface RoomRow {
  room_id: string;
  room_version: string;
  creator: string;
  created_ts: number;
}

export interface NewEvent {
  room_id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: Record<string, unknown>;
  origin_server_ts?: number;
  redacts?: string;
  txn?: TxnRef;
}

export interface MembershipRow {
  room_id: string;
  user_id: string;
  membership: string;
  event_id: string;
  pos: number;
  forgotten: number;
}

export type { RemotePdu, RoomRef, SignedRemote } from './RemoteEventWriter.js';

export type AppendListener = (events: StoredEvent[]) => void;

/**
 * Keeps something derived from events (relations, the search index, push actions) in step with them:
 * called inside the transaction that appends or redacts, so the derived rows commit or roll back with it.
 */
export interface EventIndexer {
  appended(ev: StoredEvent): void;
  /** `ev` as it was before the redaction (its original content). */
  redacted(ev: StoredEvent): void;
}

export class EventStore {
  private readonly s;
  private pending: StoredEvent[] | null = null;
  private readonly listeners = new Set<AppendListener>();
  private readonly indexers: EventIndexer[] = [];
  /** Where a failing listener is reported: the events are committed, so the writer must not see the error. */
  onListenerError: (err: unknown) => void = () => {};

  private readonly extremities: ForwardExtremities;
  private readonly pdus: PduTable;
  /** The state at each timeline event. */
  readonly stateGroups: StateGroups;
  private readonly remote: RemoteEventWriter;

  constructor(
    private readonly db: SqlDatabase,
    private readonly counter: StreamCounter,
    /** Signs every event this server makes (its federation key, loaded whether or not federation is on). */
    readonly signer: LocalEventSigner,
  ) {
    this.extremities = new ForwardExtremities(db);
    this.pdus = new PduTable(db);
    this.stateGroups = new StateGroups(db);
    this.remote = new RemoteEventWriter(this.rows(), this.pdus, this.extremities, this.stateGroups);
    this.s = eventStatements(db);
  }

  /**
   * Runs `fn` as one transaction; events appended inside are announced after the commit. Nested, it is a
   * savepoint of the outer transaction: when `fn` throws, only its own rows and events are undone.
   */
  write<T>(fn: () => T): T {
    if (this.pending) {
      const mark = this.pending.length;
      try {
        return this.db.transaction(fn)();
      } catch (err) {
        this.pending.length = mark;
        this.stateGroups.rolledBack();
        throw err;
      }
    }
    this.pending = [];
    let appended: StoredEvent[];
    let result: T;
    try {
      result = this.db.transaction(fn)();
      appended = this.pending;
    } catch (err) {
      this.stateGroups.rolledBack();
      throw err;
    } finally {
      this.pending = null;
    }
    if (appended.length > 0) {
      for (const l of [...this.listeners]) {
        try {
          l(appended);
        } catch (err) {
          this.onListenerError(err);
        }
      }
    }
    return result;
  }

  /** Indexers run in the order added, inside the writing transaction. */
  addIndexer(indexer: EventIndexer): void {
    this.indexers.push(indexer);
  }

  onAppend(listener: AppendListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  room(roomId: string): RoomRow | null {
    return (this.s.room.get(roomId) as RoomRow | undefined) ?? null;
  }

  roomIds(): string[] {
    return (this.s.allRooms.all() as Array<{ room_id: string }>).map((r) => r.room_id);
  }

  insertRoom(roomId: string, version: string, creator: string): void {
    this.s.insertRoom.run(roomId, version, creator, Date.now());
  }

  /**
   * Stores one already-authorized event made by this server; must run inside write(). It becomes a signed
   * PDU: prev_events are the room's forward extremities, depth one more than theirs, auth_events the
   * current state the auth rules name, and its id the reference hash. 413 M_TOO_LARGE over 64 KiB.
   */
  append(ev: NewEvent): StoredEvent {
    if (!this.pending) throw new Error('EventStore.append outside write()');
    const replaced =
      ev.state_key !== undefined ? (this.s.stateEvent.get(ev.room_id, ev.type, ev.state_key) as EventRow | undefined) : undefined;
    const version = this.room(ev.room_id)?.room_version;
    if (version === undefined) throw new Error(`EventStore.append to unknown room ${ev.room_id}`);
    const originServerTs = ev.origin_server_ts ?? Date.now();
    const { eventId, pdu } = this.signer.sign(version, unsignedLocalPdu(version, ev, originServerTs, this.graphFields(ev)));
    const pduJson = checkedPduJson(pdu);
    this.pdus.put(eventId, pdu, 'timeline', null, pduJson);
    const stored: StoredEvent = {
      pos: this.counter.next(),
      event_id: eventId,
      room_id: ev.room_id,
      sender: ev.sender,
      type: ev.type,
      state_key: ev.state_key ?? null,
      content: ev.content,
      origin_server_ts: originServerTs,
      redacts: ev.redacts ?? null,
      replaces_state: replaced?.event_id ?? null,
      redacted_by: null,
      txn_key: ev.txn?.key ?? null,
      txn_id: ev.txn?.id ?? null,
    };
    this.s.insertEvent.run({ ...stored, content: JSON.stringify(stored.content) });
    this.extremities.advance(ev.room_id, eventId, pdu.prev_events);
    this.recordLocalState(stored);
    if (stored.state_key !== null) this.setState(stored);
    if (ev.txn) this.s.insertTxn.run(ev.txn.key, ev.txn.scope, ev.txn.id, stored.event_id, Date.now());
    for (const indexer of this.indexers) indexer.appended(stored);
    this.pending.push(stored);
    return stored;
  }

  /** A local event's state before is the current state; after it, the current state with it (StateGroups). */
  private recordLocalState(ev: StoredEvent): void {
    const groups = this.stateGroups;
    const before = groups.current(ev.room_id) ?? groups.create(ev.room_id, this.stateIds(ev.room_id), null);
    const after = ev.state_key === null ? before : groups.withChanges(ev.room_id, before, new Map([[stateKeyOf(ev.type, ev.state_key), ev.event_id]]));
    groups.recordEvent(ev.event_id, before, after);
    if (after !== groups.current(ev.room_id)) groups.setCurrent(ev.room_id, after);
  }

  /** The store's rows as RemoteEventWriter writes them, in the running write(). */
  private rows(): EventRows {
    return {
      requireWrite: (what) => {
        if (!this.pending) throw new Error(`EventStore.${what} outside write()`);
      },
      nextPos: () => this.counter.next(),
      historicPos: () => Math.min((this.s.lowest.get() as { p: number | null }).p ?? 0, 0) - 1,
      insert: (stored) => void this.s.insertEvent.run({ ...stored, content: JSON.stringify(stored.content) }),
      hasStateRow: (roomId, type, stateKey) => this.stateEventAt(roomId, type, stateKey, Number.MAX_SAFE_INTEGER) !== null,
      move: (eventId, pos) => {
        for (const st of [this.s.moveEvent, this.s.moveState, this.s.moveMembership]) st.run(pos, eventId);
      },
      announce: (stored) => {
        for (const indexer of this.indexers) indexer.appended(stored);
        this.pending!.push(stored);
      },
      setState: (ev) => this.setState(ev),
      event: (id) => this.event(id),
      roomVersion: (roomId) => this.room(roomId)?.room_version,
      ensureRoom: (room) => {
        if (!this.room(room.roomId)) this.insertRoom(room.roomId, room.version, room.creator);
      },
      stateIds: (roomId) => this.stateIds(roomId),
    };
  }

  /** Where a new event of the room would go: prev_events, depth and auth_events (make_join's template too). */
  graphFields(ev: Pick<NewEvent, 'room_id' | 'type' | 'state_key' | 'sender' | 'content'>): GraphFields {
    const prev = ev.type === 'm.room.create' ? [] : this.extremities.of(ev.room_id);
    return {
      prev_events: prev.map((p) => p.event_id),
      auth_events: this.authEventIds(ev),
      depth: Math.max(0, ...prev.map((p) => p.depth)) + 1,
    };
  }

  /** A room joined through another server (send_join's answer, checked): see RemoteEventWriter. */
  storeJoinedRoom(room: RoomRef, join: SignedRemote, state: SignedRemote[], authChain: SignedRemote[]): StoredEvent {
    return this.remote.storeJoinedRoom(room, join, state, authChain);
  }

  /** An invite of a local user to a room this server is not in, or a local user's knock on one: see RemoteEventWriter. */
  storeInvite(room: RoomRef, invite: SignedRemote): StoredEvent {
    return this.remote.storeInvite(room, invite);
  }

  /** A PDU from another server, checked on receipt: see RemoteEventWriter. */
  storeRemote(r: RemotePdu): StoredEvent | null {
    return this.remote.storeRemote(r);
  }

  /** History fetched from a peer (backfill), below the room's earliest event here: see RemoteEventWriter. */
  storeBackfilled(events: SignedRemote[]): StoredEvent[] {
    return this.remote.storeBackfilled(events);
  }

  private setState(ev: StoredEvent): void {
    this.s.upsertState.run(ev.room_id, ev.type, ev.state_key, ev.event_id, ev.pos);
    if (ev.type === 'm.room.member') this.s.upsertMembership.run(ev.room_id, ev.state_key, String(ev.content['membership']), ev.event_id, ev.pos);
  }

  /** The room's current state as state key (type NUL state_key) -> event id. */
  stateIds(roomId: string): StateIds {
    const rows = this.s.stateIds.all(roomId) as Array<{ type: string; state_key: string; event_id: string }>;
    return new Map(rows.map((r) => [stateKeyOf(r.type, r.state_key), r.event_id]));
  }

  /** The current state events the auth rules say `ev` must name (none for a create event). */
  private authEventIds(ev: Pick<NewEvent, 'room_id' | 'type' | 'state_key' | 'sender' | 'content'>): string[] {
    const ids: string[] = [];
    for (const key of authStateKeys(ev)) {
      const cut = key.indexOf('\u0000');
      const row = this.s.stateEvent.get(ev.room_id, key.slice(0, cut), key.slice(cut + 1)) as EventRow | undefined;
      if (row) ids.push(row.event_id);
    }
    return ids;
  }

  /** The event as other servers see it: the signed PDU, redacted if the event was (null: not stored). */
  pdu(eventId: string): Pdu | null {
    return this.pdus.pdu(eventId);
  }

  /** The PDU with its id and how it was stored (for the checks on receipt and state resolution). */
  pduEntry(eventId: string): PduEntry | null {
    return this.pdus.entry(eventId);
  }

  /** The room's forward extremities, the prev_events of its next event (deepest first). */
  forwardExtremities(roomId: string): string[] {
    return this.extremities.of(roomId).map((e) => e.event_id);
  }

  /** The event a transaction ID already produced, for idempotent retries. */
  txnEvent(txn: TxnRef): string | null {
    const row = this.s.txn.get(txn.key, txn.scope, txn.id) as { event_id: string } | undefined;
    return row?.event_id ?? null;
  }

  /** Remembers a transaction ID that produced no room event (e.g. send-to-device). False when seen before. */
  recordTxn(txn: TxnRef): boolean {
    if (this.txnEvent(txn) !== null) return false;
    this.s.insertTxn.run(txn.key, txn.scope, txn.id, '', Date.now());
    return true;
  }

  event(eventId: string): StoredEvent | null {
    const row = this.s.event.get(eventId) as EventRow | undefined;
    return row ? fromRow(row) : null;
  }

  /** The event at a stream position. */
  eventAt(pos: number): StoredEvent | null {
    const row = this.s.eventAt.get(pos) as EventRow | undefined;
    return row ? fromRow(row) : null;
  }

  stateEvent(roomId: string, type: string, stateKey: string): StoredEvent | null {
    const row = this.s.stateEvent.get(roomId, type, stateKey) as EventRow | undefined;
    return row ? fromRow(row) : null;
  }

  /** State at stream position `pos` (after the event at `pos`). */
  stateEventAt(roomId: string, type: string, stateKey: string, pos: number): StoredEvent | null {
    const row = this.s.stateEventAt.get(roomId, type, stateKey, pos) as EventRow | undefined;
    return row ? fromRow(row) : null;
  }

  /** Every value one piece of state has had, oldest first (a user's memberships, the history visibility). */
  stateHistory(roomId: string, type: string, stateKey: string): Array<{ pos: number; content: Record<string, unknown> }> {
    return (this.s.stateHistory.all(roomId, type, stateKey) as Array<{ pos: number; content: string }>).map((r) => ({
      pos: r.pos,
      content: JSON.parse(r.content) as Record<string, unknown>,
    }));
  }

  currentState(roomId: string): StoredEvent[] {
    return (this.s.currentState.all(roomId) as EventRow[]).map(fromRow);
  }

  /** The room's state after the event at `pos` (pos = Infinity: now). */
  stateAt(roomId: string, pos: number): StoredEvent[] {
    if (!Number.isFinite(pos)) return this.currentState(roomId);
    return (this.s.stateAt.all(roomId, pos) as EventRow[]).map(fromRow);
  }

  stateMapAt(roomId: string, pos: number): Map<string, StoredEvent> {
    const map = new Map<string, StoredEvent>();
    for (const e of this.stateAt(roomId, pos)) map.set(stateKeyOf(e.type, e.state_key!), e);
    return map;
  }

  /** A live view of the current state (reads inside a running write() see its own changes). */
  liveState(roomId: string): RoomStateView {
    return {
      get: (type: string, stateKey: string): StateEntry | undefined => this.stateEvent(roomId, type, stateKey) ?? undefined,
      size: () => (this.s.stateSize.get(roomId) as { n: number }).n,
    };
  }

  /** Room events in (after, upTo], newest last; at most `limit`, taking the newest ones. */
  latestEvents(roomId: string, after: number, upTo: number, limit: number): StoredEvent[] {
    const rows = this.s.roomEventsDesc.all(roomId, after, toSql(upTo), limit) as EventRow[];
    return rows.reverse().map(fromRow);
  }

  /** Room events in (after, upTo], oldest first; at most `limit`, taking the oldest ones. */
  earliestEvents(roomId: string, after: number, upTo: number, limit: number): StoredEvent[] {
    return (this.s.roomEventsAsc.all(roomId, after, toSql(upTo), limit) as EventRow[]).map(fromRow);
  }

  eventsAfter(after: number, limit: number): StoredEvent[] {
    return (this.s.eventsAfter.all(after, limit) as EventRow[]).map(fromRow);
  }

  /** Rooms with an event after `pos` (a range scan of the stream: cheap for recent positions). */
  roomsWithEventsAfter(pos: number): Set<string> {
    return new Set((this.s.roomsChangedAfter.all(pos) as Array<{ room_id: string }>).map((r) => r.room_id));
  }

  head(): number {
    return (this.s.head.get() as { p: number | null }).p ?? 0;
  }

  membershipsOfUser(userId: string): MembershipRow[] {
    return this.s.membershipsOfUser.all(userId) as MembershipRow[];
  }

  membership(roomId: string, userId: string): MembershipRow | null {
    return (this.s.membership.get(roomId, userId) as MembershipRow | undefined) ?? null;
  }

  members(roomId: string, membership?: string): MembershipRow[] {
    return (membership ? this.s.membersWith.all(roomId, membership) : this.s.members.all(roomId)) as MembershipRow[];
  }

  joinedCount(roomId: string): number {
    return (this.s.joinedCount.get(roomId) as { n: number }).n;
  }

  /** Position of the user's newest own event in the room (their own messages count as read). */
  lastOwnEventPos(roomId: string, userId: string): number {
    return (this.s.lastOwn.get(roomId, userId) as { p: number | null }).p ?? 0;
  }

  forget(roomId: string, userId: string): void {
    this.s.forget.run(roomId, userId);
  }

  /**
   * Replaces an event's content by its redacted form, and its PDU by the PDU redacted as its room version
   * says (hashes and signatures stay: they still verify); must run inside write().
   */
  markRedacted(ev: StoredEvent, content: Record<string, unknown>, redactedBy: string): void {
    if (!this.pending) throw new Error('EventStore.markRedacted outside write()');
    this.s.redact.run(JSON.stringify(content), redactedBy, ev.event_id);
    const version = this.room(ev.room_id)?.room_version;
    if (version !== undefined) this.pdus.redact(ev.event_id, version);
    for (const indexer of this.indexers) indexer.redacted(ev);
  }
}

function toSql(upTo: number): number {
  return Number.isFinite(upTo) ? upTo : Number.MAX_SAFE_INTEGER;
}
