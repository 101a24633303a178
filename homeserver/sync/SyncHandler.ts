// GET /sync: everything that changed for a user after a stream token, or a snapshot without one. The
// stream counter gives events, receipts, account data, to-device messages and device-list changes one total
// order, so `next_batch` is simply the position the response was computed at. With nothing to report, the
// request waits (long-poll) until the notifier signals a change in one of the user's rooms or the timeout
// passes.
import type { ClientEvent, Requester, StrippedStateEvent } from '../contracts.js';
import type { AccountDataStore, AccountDataRow } from '../accounts/AccountDataStore.js';
import type { ClientEventFormatter } from '../events/ClientEventFormatter.js';
import type { EventStore, MembershipRow } from '../events/EventStore.js';
import { ByteBudget, RESPONSE_BUDGET } from '../events/ResponseBudget.js';
import type { StoredEvent } from '../events/StoredEvent.js';
import { invitedRoomState, strip, strippedState } from '../events/StrippedState.js';
import type { EphemeralCounter } from '../ephemeral/EphemeralCounter.js';
import type { PresenceState, PresenceTracker } from '../ephemeral/PresenceTracker.js';
import { receiptContent, type ReceiptStore } from '../ephemeral/ReceiptStore.js';
import type { ToDeviceInbox } from '../ephemeral/ToDeviceInbox.js';
import type { DeviceListStream } from '../e2ee/DeviceListStream.js';
import type { OneTimeKeyStore } from '../e2ee/OneTimeKeyStore.js';
import type { TypingTracker } from '../ephemeral/TypingTracker.js';
import type { UnreadCounter } from '../push/UnreadCounter.js';
import type { PushRuleStore } from '../push/PushRuleStore.js';
import type { HistoryVisibility, RoomReader } from '../rooms/HistoryVisibility.js';
import type { BundledAggregations } from '../relations/BundledAggregations.js';
import type { Relations } from '../relations/Relations.js';
import { txnKeyOf } from '../rooms/TxnKey.js';
import type { StreamCounter } from '../storage/StreamCounter.js';
import { isDisabled, matchesEvent, roomAllowed, type SyncFilter } from './EventFilter.js';
import { newestEvents, type TimelineSlice } from './RoomTimeline.js';
import type { SyncNotifier } from './SyncNotifier.js';
import { paginationToken, syncToken, toDeviceAck, type StreamToken } from './SyncToken.js';

export interface SyncRequest {
  requester: Requester;
  since: StreamToken | null;
  fullState: boolean;
  filter: SyncFilter;
  timeoutMs: number;
  setPresence?: PresenceState;
  abort?: AbortSignal;
}

export interface SyncDeps {
  events: EventStore;
  history: HistoryVisibility;
  relations: Relations;
  formatter: ClientEventFormatter;
  receipts: ReceiptStore;
  typing: TypingTracker;
  presence: PresenceTracker;
  accountData: AccountDataStore;
  pushRules: PushRuleStore;
  unread: UnreadCounter;
  counter: StreamCounter;
  ephemeral: EphemeralCounter;
  notifier: SyncNotifier;
  toDevice: ToDeviceInbox;
  deviceLists: DeviceListStream;
  oneTimeKeys: OneTimeKeyStore;
  /** Long-polls in progress, for the metrics. */
  onWaitChange?: (delta: number) => void;
}

type Json = Record<string, unknown>;

interface Snapshot {
  now: number;
  eph: number;
  /** The since token, clamped to what this server has handed out. */
  P: number;
  E: number;
  initial: boolean;
  /** What is left of the response's byte budget for timelines (shared by all rooms of one response). */
  timelineBytes: { left: number };
}

export class SyncHandler {
  constructor(private readonly d: SyncDeps) {}

  async sync(req: SyncRequest): Promise<Json> {
    const userId = req.requester.userId;
    const ended = this.d.presence.syncStarted(userId, req.setPresence);
    try {
      return await this.poll(req, userId);
    } finally {
      ended();
    }
  }

  private async poll(req: SyncRequest, userId: string): Promise<Json> {
    const deadline = Date.now() + Math.max(0, req.timeoutMs);
    for (;;) {
      const { response, empty, joinedRooms } = this.compute(req);
      if (!empty || !req.since || req.fullState || Date.now() >= deadline || req.abort?.aborted || this.d.notifier.isClosed) {
        return response;
      }
      // Registered in the same tick as compute(): nothing can slip in between.
      this.d.onWaitChange?.(1);
      try {
        await this.d.notifier.wait(userId, joinedRooms, deadline - Date.now(), req.abort);
      } finally {
        this.d.onWaitChange?.(-1);
      }
    }
  }

  private compute(req: SyncRequest): { response: Json; empty: boolean; joinedRooms: Set<string> } {
    const now = this.d.counter.current();
    const eph = this.d.ephemeral.current();
    const since = req.since;
    const snap: Snapshot = {
      now,
      eph,
      P: since ? Math.min(since.pos, now) : 0,
      // A token from before a restart may carry a larger ephemeral serial: then everything is new.
      E: since && since.eph <= eph ? since.eph : 0,
      initial: since === null,
      timelineBytes: { left: RESPONSE_BUDGET.syncBytes },
    };
    const userId = req.requester.userId;
    const f = req.filter;
    const txnKey = txnKeyOf(req.requester);

    const accountData = isDisabled(f.accountData) && isDisabled(f.roomAccountData) ? [] : this.d.accountData.since(userId, snap.P);
    const roomAccountData = new Map<string, AccountDataRow[]>();
    for (const row of accountData) {
      if (row.room_id === '') continue;
      const list = roomAccountData.get(row.room_id) ?? [];
      list.push(row);
      roomAccountData.set(row.room_id, list);
    }

    const join: Json = {};
    const invite: Json = {};
    const leave: Json = {};
    const knock: Json = {};
    const joinedRooms = new Set<string>();
    const memberships = this.d.events.membershipsOfUser(userId);
    // For an increment, only rooms where something happened need a closer look.
    const changed = snap.initial
      ? null
      : new Set([
          ...this.d.events.roomsWithEventsAfter(snap.P),
          ...this.d.receipts.roomsWithReceiptsAfter(snap.P),
          ...roomAccountData.keys(),
        ]);
    for (const m of memberships) {
      if (m.membership === 'join') joinedRooms.add(m.room_id);
      if (!roomAllowed(f, m.room_id)) continue;
      const changedSince = snap.initial || m.pos > snap.P;
      if (m.membership === 'join') {
        const quiet = changed !== null && !changedSince && !req.fullState && !changed.has(m.room_id);
        if (quiet && !this.d.typing.changedSince(m.room_id, snap.E)) continue;
        const room = this.joinedRoom(m, snap, req, txnKey, roomAccountData.get(m.room_id) ?? [], changedSince && this.joinedAfter(m, snap.P));
        if (room) join[m.room_id] = room;
      } else if (m.membership === 'invite') {
        if (changedSince) invite[m.room_id] = this.invitedRoom(m);
      } else if (m.membership === 'knock') {
        if (changedSince) knock[m.room_id] = { knock_state: { events: this.strippedRoom(m, 'knock_room_state') } };
      } else if ((m.membership === 'leave' || m.membership === 'ban') && m.forgotten === 0) {
        const room = this.leftRoom(m, snap, req, txnKey, roomAccountData.get(m.room_id) ?? []);
        if (room) leave[m.room_id] = room;
      }
    }

    const globalAccountData = isDisabled(f.accountData)
      ? []
      : accountData
          .filter((r) => r.room_id === '' && matchesEvent(f.accountData, { type: r.type }))
          .map((r) => ({ type: r.type, content: r.content }));
    if (snap.initial && !isDisabled(f.accountData) && !globalAccountData.some((e) => e.type === 'm.push_rules')) {
      globalAccountData.push({ type: 'm.push_rules', content: this.d.pushRules.accountDataContent(userId) });
    }

    const presence =
      isDisabled(f.presence) || !this.d.presence.anyChangeSince(snap.E) ? [] : this.presenceEvents(userId, joinedRooms, snap.E, f);

    // End-to-end encryption: this device's messages and key counts, and whose device lists to re-fetch.
    const deviceId = req.requester.deviceId;
    const toDevice = deviceId
      ? this.d.toDevice.take(userId, deviceId, since ? Math.min(toDeviceAck(since), now) : 0, now)
      : { messages: [], partialUpTo: null };
    const deviceLists = snap.initial ? { changed: [], left: [] } : this.d.deviceLists.changesFor(userId, snap.P, now);

    const response: Json = {
      next_batch: syncToken(now, eph, toDevice.partialUpTo),
      rooms: { join, invite, leave, knock },
      presence: { events: presence },
      account_data: { events: globalAccountData },
      to_device: { events: toDevice.messages },
      device_lists: deviceLists,
      device_one_time_keys_count: deviceId ? this.d.oneTimeKeys.counts(userId, deviceId) : {},
      device_unused_fallback_key_types: deviceId ? this.d.oneTimeKeys.unusedFallbackTypes(userId, deviceId) : [],
    };
    const empty =
      Object.keys(join).length === 0 &&
      Object.keys(invite).length === 0 &&
      Object.keys(leave).length === 0 &&
      Object.keys(knock).length === 0 &&
      presence.length === 0 &&
      globalAccountData.length === 0 &&
      toDevice.messages.length === 0 &&
      deviceLists.changed.length === 0 &&
      deviceLists.left.length === 0;
    return { response, empty, joinedRooms };
  }

  /**
   * Whether a member whose membership event is newer than `since` joined after it: not joined then, or
   * left and came back since. A display name or avatar change is a join after a join: still the same stay.
   */
  private joinedAfter(m: MembershipRow, since: number): boolean {
    const history = this.d.events.stateHistory(m.room_id, 'm.room.member', m.user_id);
    const before = history.filter((h) => h.pos <= since).at(-1);
    if (before?.content['membership'] !== 'join') return true;
    return history.some((h) => h.pos > since && h.content['membership'] !== 'join');
  }

  private joinedRoom(
    m: MembershipRow,
    snap: Snapshot,
    req: SyncRequest,
    txnKey: string,
    accountData: AccountDataRow[],
    newlyJoined: boolean,
  ): Json | null {
    const f = req.filter;
    const roomId = m.room_id;
    const userId = req.requester.userId;
    const after = newlyJoined ? 0 : snap.P;
    const reader = this.d.history.readerOf(m);
    const bundle = this.d.relations.bundle(userId, txnKey, reader);
    const slice = this.timeline(reader, after, snap.now, snap, { txnKey, relations: bundle }, f.timelineLimit, (e) => matchesEvent(f.timeline, e));
    const timeline = slice.events;
    const state = this.stateBefore(reader, timeline, snap, newlyJoined || req.fullState, slice.more);

    const ephemeral: Json[] = [];
    if (!isDisabled(f.ephemeral)) {
      const typing = snap.initial || newlyJoined ? this.d.typing.typingIn(roomId) : this.d.typing.changedSince(roomId, snap.E);
      if (typing && (typing.length > 0 || !(snap.initial || newlyJoined)) && matchesEvent(f.ephemeral, { type: 'm.typing' })) {
        ephemeral.push({ type: 'm.typing', content: { user_ids: typing } });
      }
      if (matchesEvent(f.ephemeral, { type: 'm.receipt' })) {
        const content = receiptContent(this.d.receipts.since(roomId, newlyJoined ? 0 : snap.P), userId);
        if (content) ephemeral.push({ type: 'm.receipt', content });
      }
    }
    const roomAccountData = isDisabled(f.roomAccountData)
      ? []
      : accountData.filter((r) => matchesEvent(f.roomAccountData, { type: r.type })).map((r) => ({ type: r.type, content: r.content }));

    if (!newlyJoined && !req.fullState && timeline.length === 0 && ephemeral.length === 0 && roomAccountData.length === 0) {
      return null;
    }
    const counts = this.unreadCounts(m, f.unreadThreadNotifications);
    return {
      timeline: {
        events: this.d.formatter.formatAll(timeline, { txnKey, relations: bundle }),
        limited: slice.more,
        prev_batch: paginationToken(timeline.length > 0 ? timeline[0]!.pos - 1 : snap.now),
      },
      state: { events: this.formatState(state, f) },
      ephemeral: { events: ephemeral },
      account_data: { events: roomAccountData },
      ...counts,
      summary: this.summary(roomId, userId),
    };
  }

  /** Unread notifications, split into the main timeline and each thread when the filter asks for unread_thread_notifications. */
  private unreadCounts(m: MembershipRow, perThread: boolean): Json {
    const unread = this.d.unread.room(m.user_id, m.room_id, m.pos);
    const json = (c: { notifications: number; highlights: number }): Json => ({ notification_count: c.notifications, highlight_count: c.highlights });
    if (perThread) {
      const threads: Json = {};
      for (const [root, c] of unread.threads) threads[root] = json(c);
      return { unread_notifications: json(unread.main), unread_thread_notifications: threads };
    }
    const total = { ...unread.main };
    for (const c of unread.threads.values()) {
      total.notifications += c.notifications;
      total.highlights += c.highlights;
    }
    return { unread_notifications: json(total) };
  }

  private invitedRoom(m: MembershipRow): Json {
    return { invite_state: { events: this.strippedRoom(m, 'invite_room_state') } };
  }

  /** What an invitee or knocker sees of the room: its stripped state, then their own member event. */
  private strippedRoom(m: MembershipRow, key: 'invite_room_state' | 'knock_room_state'): StrippedStateEvent[] {
    const events = strippedState(this.d.events, m.room_id);
    // A room this server is not in: the stripped state the other server sent with the invite or knock.
    if (events.length === 0) events.push(...invitedRoomState(this.d.events.pdu(m.event_id), key));
    const own = this.d.events.event(m.event_id);
    if (own) events.push(strip(own));
    return events;
  }

  private leftRoom(m: MembershipRow, snap: Snapshot, req: SyncRequest, txnKey: string, accountData: AccountDataRow[]): Json | null {
    const f = req.filter;
    const roomId = m.room_id;
    const userId = req.requester.userId;
    let after: number;
    if (snap.initial) {
      if (!f.includeLeave) return null;
      if (!this.wasJoinedBefore(roomId, userId, m.pos - 1)) after = m.pos - 1;
      else after = 0;
    } else {
      if (m.pos <= snap.P) return null;
      // A member at the since token sees what happened up to their leave; otherwise just the leave.
      const before = this.d.events.stateEventAt(roomId, 'm.room.member', userId, snap.P);
      after = before?.content['membership'] === 'join' ? snap.P : m.pos - 1;
    }
    const reader = this.d.history.readerOf(m);
    const bundle = this.d.relations.bundle(userId, txnKey, reader);
    const keep = (e: StoredEvent): boolean => matchesEvent(f.timeline, e) || e.pos === m.pos;
    const slice = this.timeline(reader, after, m.pos, snap, { txnKey, relations: bundle }, f.timelineLimit, keep);
    const timeline = slice.events;
    const full = snap.initial || req.fullState || after !== snap.P;
    const state = this.stateBefore(reader, timeline, { ...snap, now: m.pos }, full, slice.more);
    return {
      timeline: {
        events: this.d.formatter.formatAll(timeline, { txnKey, relations: bundle }),
        limited: slice.more,
        prev_batch: paginationToken(timeline.length > 0 ? timeline[0]!.pos - 1 : m.pos),
      },
      state: { events: this.formatState(state, f) },
      account_data: {
        events: accountData.map((r) => ({ type: r.type, content: r.content })),
      },
    };
  }

  /** The newest events the reader may see in (after, upTo], within the room's and the response's byte budget. */
  private timeline(
    reader: RoomReader,
    after: number,
    upTo: number,
    snap: Snapshot,
    format: { txnKey: string; relations: BundledAggregations },
    limit: number,
    keep: (e: StoredEvent) => boolean,
  ): TimelineSlice {
    const bytes = Math.min(RESPONSE_BUDGET.syncRoomBytes, snap.timelineBytes.left);
    const budget = new ByteBudget(bytes, (e) => this.d.formatter.serializedSize(e, format));
    const onBatch = (batch: readonly StoredEvent[]): void => void format.relations.prepare(batch);
    const slice = newestEvents(this.d.events, reader.roomId, reader.visible(after, upTo), limit, { keep, budget, onBatch });
    snap.timelineBytes.left -= budget.used;
    return slice;
  }

  private wasJoinedBefore(roomId: string, userId: string, pos: number): boolean {
    let ev = this.d.events.stateEventAt(roomId, 'm.room.member', userId, pos);
    for (let hops = 0; ev && hops < 20; hops++) {
      if (ev.content['membership'] === 'join') return true;
      ev = ev.replaces_state ? this.d.events.event(ev.replaces_state) : null;
    }
    return false;
  }

  /**
   * State up to the start of the timeline: all of it for a full snapshot, otherwise what changed between
   * the since token and the timeline's start (which only a gappy, `limited` timeline can hide); in both
   * cases only what the reader may see of it.
   */
  private stateBefore(reader: RoomReader, timeline: StoredEvent[], snap: Snapshot, full: boolean, limited: boolean): StoredEvent[] {
    const roomId = reader.roomId;
    const start = timeline.length > 0 ? timeline[0]!.pos - 1 : snap.now;
    if (!full && !limited) return [];
    const state = this.d.events.stateAt(roomId, start).filter((e) => reader.maySeeState(e));
    if (full) return state;
    const before = this.d.events.stateMapAt(roomId, snap.P);
    return state.filter((e) => before.get(`${e.type}\u0000${e.state_key}`)?.event_id !== e.event_id);
  }

  private formatState(state: StoredEvent[], f: SyncFilter): ClientEvent[] {
    if (isDisabled(f.state)) return [];
    return this.d.formatter.formatAll(state.filter((e) => matchesEvent(f.state, e)));
  }

  private summary(roomId: string, userId: string): Json {
    const joined = this.d.events.members(roomId, 'join');
    const invited = this.d.events.members(roomId, 'invite');
    const heroes = [...joined, ...invited]
      .map((m) => m.user_id)
      .filter((u) => u !== userId)
      .sort()
      .slice(0, 5);
    return { 'm.heroes': heroes, 'm.joined_member_count': joined.length, 'm.invited_member_count': invited.length };
  }

  private presenceEvents(userId: string, joinedRooms: Set<string>, since: number, f: SyncFilter): Json[] {
    const users = new Set<string>([userId]);
    for (const roomId of joinedRooms) for (const m of this.d.events.members(roomId, 'join')) users.add(m.user_id);
    return this.d.presence
      .changedSince(since, users)
      .filter(([u]) => matchesEvent(f.presence, { type: 'm.presence', sender: u }))
      .map(([u, rec]) => ({ type: 'm.presence', sender: u, content: this.d.presence.content(u, rec) }));
  }
}
