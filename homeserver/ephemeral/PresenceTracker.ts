// Presence, kept in memory (it is gone after a restart, and everyone then reads as offline). A user's
// clients make them online by syncing (without set_presence, or with online) and unavailable with
// set_presence=unavailable; PUT /presence sets any state. Sending events and PUT online count as
// activity (last_active_ago, and currently_active within the last minute). A user whose clients sync
// goes unavailable after `idleMs` without activity and offline `offlineMs` after their last sync ended.
// Users who never sync (a bridge's ghosts, set by the bridge through the appservice API) keep what was
// set: the bridge knows when its remote user leaves.
import type { EphemeralCounter } from './EphemeralCounter.js';

export type PresenceState = 'online' | 'offline' | 'unavailable';

export interface PresenceRecord {
  presence: PresenceState;
  status_msg?: string;
  lastActiveTs: number;
  serial: number;
  /** Another server's user: as their server said (a local user's is computed from lastActiveTs). */
  currentlyActive?: boolean;
}

/** What another server says of one of its users (an m.presence EDU's entry). */
export interface RemotePresence {
  presence: PresenceState;
  statusMsg?: string;
  lastActiveAgo?: number;
  currentlyActive?: boolean;
}

export interface PresenceTimeouts {
  /** Online without activity this long: unavailable. */
  idleMs: number;
  /** No sync running and none ended within this long: offline. */
  offlineMs: number;
}

/** Active within this long counts as currently_active (as Synapse). */
const CURRENTLY_ACTIVE_MS = 60_000;

interface SyncState {
  running: number;
  lastSyncTs: number;
  /** The state came from the idle timer (activity brings the user back online). */
  idle: boolean;
}

export class PresenceTracker {
  private readonly users = new Map<string, PresenceRecord>();
  private readonly syncing = new Map<string, SyncState>();
  private latest = 0;
  private readonly listeners = new Set<(userId: string, rec: PresenceRecord) => void>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly counter: EphemeralCounter,
    private readonly timeouts: PresenceTimeouts = { idleMs: 300_000, offlineMs: 30_000 },
  ) {}

  onChange(listener: (userId: string, rec: PresenceRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Checks the timeouts every `everyMs` until stop(). */
  start(everyMs = Math.min(5_000, this.timeouts.offlineMs, this.timeouts.idleMs)): void {
    this.timer = setInterval(() => this.sweep(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** PUT /presence: sets the state; `statusMsg` undefined keeps the old message. */
  set(userId: string, presence: PresenceState, statusMsg?: string | null): void {
    const s = this.syncing.get(userId);
    if (s) s.idle = false;
    this.change(userId, presence, statusMsg, presence === 'online');
  }

  /**
   * A /sync began with this set_presence (undefined: online). Offline leaves the state alone, as the
   * spec says; online turns an offline user online but leaves an unavailable one as they said.
   * Returns what to call when the sync has ended.
   */
  syncStarted(userId: string, setPresence: PresenceState | undefined): () => void {
    if (setPresence === 'offline') return () => {};
    let s = this.syncing.get(userId);
    if (!s) {
      s = { running: 0, lastSyncTs: 0, idle: false };
      this.syncing.set(userId, s);
    }
    s.running++;
    s.lastSyncTs = Date.now();
    const current = this.users.get(userId)?.presence ?? 'offline';
    if (setPresence === 'unavailable' && current !== 'unavailable') {
      s.idle = false;
      this.change(userId, 'unavailable', undefined, false);
    } else if (setPresence !== 'unavailable' && current === 'offline') {
      s.idle = false;
      this.change(userId, 'online', undefined, true);
    }
    const state = s;
    return () => {
      state.running--;
      state.lastSyncTs = Date.now();
    };
  }

  /** The user did something (sent an event): active now, and back online if only idle. */
  active(userId: string): void {
    const rec = this.users.get(userId);
    if (!rec) return;
    const s = this.syncing.get(userId);
    if (s?.idle && rec.presence === 'unavailable') {
      s.idle = false;
      this.change(userId, 'online', undefined, true);
    } else if (rec.presence === 'online') {
      rec.lastActiveTs = Date.now();
    }
  }

  /** Another server's user, as their server says; no timers apply (that server sends the next change). */
  setRemote(userId: string, state: RemotePresence): void {
    const rec: PresenceRecord = { presence: state.presence, lastActiveTs: Date.now() - (state.lastActiveAgo ?? 0), serial: this.counter.next() };
    if (state.statusMsg !== undefined) rec.status_msg = state.statusMsg;
    if (state.currentlyActive !== undefined) rec.currentlyActive = state.currentlyActive;
    this.latest = rec.serial;
    this.users.set(userId, rec);
    for (const l of [...this.listeners]) l(userId, rec);
  }

  get(userId: string): PresenceRecord | null {
    return this.users.get(userId) ?? null;
  }

  /** The m.presence event content as clients and appservices receive it. */
  content(userId: string, rec: PresenceRecord): Record<string, unknown> {
    const ago = Math.max(0, Date.now() - rec.lastActiveTs);
    const c: Record<string, unknown> = {
      presence: rec.presence,
      last_active_ago: ago,
      currently_active: rec.currentlyActive ?? (rec.presence === 'online' && ago < CURRENTLY_ACTIVE_MS),
      user_id: userId,
    };
    if (rec.status_msg !== undefined) c['status_msg'] = rec.status_msg;
    return c;
  }

  /** Whether anyone's presence changed after `since` (lets /sync skip collecting the users it shares rooms with). */
  anyChangeSince(since: number): boolean {
    return this.latest > since;
  }

  changedSince(since: number, among: Iterable<string>): Array<[string, PresenceRecord]> {
    const out: Array<[string, PresenceRecord]> = [];
    for (const u of among) {
      const rec = this.users.get(u);
      if (rec && rec.serial > since) out.push([u, rec]);
    }
    return out;
  }

  /** Applies the timeouts to users whose clients sync. */
  sweep(now = Date.now()): void {
    for (const [userId, s] of this.syncing) {
      const rec = this.users.get(userId);
      if (!rec || rec.presence === 'offline') {
        if (s.running === 0) this.syncing.delete(userId);
        continue;
      }
      if (s.running === 0 && now - s.lastSyncTs > this.timeouts.offlineMs) {
        this.syncing.delete(userId);
        this.change(userId, 'offline', undefined, false);
      } else if (rec.presence === 'online' && now - rec.lastActiveTs > this.timeouts.idleMs) {
        s.idle = true;
        this.change(userId, 'unavailable', undefined, false);
      }
    }
  }

  /** Only real changes get a new serial and are announced; the same state again is activity at most. */
  private change(userId: string, presence: PresenceState, statusMsg: string | null | undefined, activity: boolean): void {
    const old = this.users.get(userId);
    const msg = statusMsg === undefined ? old?.status_msg : statusMsg ?? undefined;
    const now = Date.now();
    if (old && old.presence === presence && old.status_msg === msg) {
      if (activity) old.lastActiveTs = now;
      return;
    }
    const rec: PresenceRecord = { presence, lastActiveTs: activity || !old ? now : old.lastActiveTs, serial: this.counter.next() };
    this.latest = rec.serial;
    if (msg !== undefined) rec.status_msg = msg;
    this.users.set(userId, rec);
    for (const l of [...this.listeners]) l(userId, rec);
  }
}
