// Basic presence: what users set (or /sync's set_presence implies), kept in memory.
import type { EphemeralCounter } from './EphemeralCounter.js';

export type PresenceState = 'online' | 'offline' | 'unavailable';

export interface PresenceRecord {
  presence: PresenceState;
  status_msg?: string;
  lastActiveTs: number;
  serial: number;
}

export class PresenceTracker {
  private readonly users = new Map<string, PresenceRecord>();
  private latest = 0;
  private readonly listeners = new Set<(userId: string, rec: PresenceRecord) => void>();

  constructor(private readonly counter: EphemeralCounter) {}

  onChange(listener: (userId: string, rec: PresenceRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sets presence; `statusMsg` undefined keeps the old message. Only real changes are announced. */
  set(userId: string, presence: PresenceState, statusMsg?: string | null): void {
    const old = this.users.get(userId);
    const msg = statusMsg === undefined ? old?.status_msg : statusMsg ?? undefined;
    const now = Date.now();
    if (old && old.presence === presence && old.status_msg === msg) {
      old.lastActiveTs = now;
      return;
    }
    const rec: PresenceRecord = { presence, lastActiveTs: now, serial: this.counter.next() };
    this.latest = rec.serial;
    if (msg !== undefined) rec.status_msg = msg;
    this.users.set(userId, rec);
    for (const l of [...this.listeners]) l(userId, rec);
  }

  get(userId: string): PresenceRecord | null {
    return this.users.get(userId) ?? null;
  }

  /** The m.presence event content as clients and appservices receive it. */
  content(userId: string, rec: PresenceRecord): Record<string, unknown> {
    const c: Record<string, unknown> = {
      presence: rec.presence,
      last_active_ago: Math.max(0, Date.now() - rec.lastActiveTs),
      currently_active: rec.presence === 'online',
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
}
