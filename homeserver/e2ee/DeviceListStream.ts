// Device-list changes on the shared stream: one row per change (new or deleted device, uploaded device keys,
// cross-signing keys or signatures) at its stream position, so "who changed between two sync tokens" is a
// range scan of positions, never a walk over every user. /sync's
// `device_lists` adds the users who began or stopped sharing a room with the syncing user, read from the
// membership events after the token. A change of one device (not of cross-signing keys) also names the
// device (`device_list_change_devices`): what other servers are told in m.device_list_update.
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import type { StreamCounter } from '../storage/StreamCounter.js';

export interface DeviceListChanges {
  changed: string[];
  left: string[];
}

/**
 * One change of a user's devices or keys; `observer` null means everyone who shares a room with them sees
 * it. `deviceId` names the device that was added, deleted or got new keys or signatures; null: the user's
 * cross-signing keys (or, for another server's user, a change it did not say more about).
 */
export interface DeviceListChange {
  pos: number;
  userId: string;
  observer: string | null;
  deviceId: string | null;
}

type ChangeListener = (change: DeviceListChange) => void;

const SHARING = new Set(['join', 'invite']);

export class DeviceListStream {
  private readonly s;
  private readonly listeners = new Set<ChangeListener>();

  constructor(
    db: SqlDatabase,
    private readonly counter: StreamCounter,
  ) {
    this.s = {
      record: db.prepare('INSERT INTO device_list_changes (pos, user_id, observer) VALUES (?, ?, ?)'),
      recordDevice: db.prepare('INSERT INTO device_list_change_devices (pos, user_id, device_id) VALUES (?, ?, ?)'),
      lastDeviceChange: db.prepare('SELECT pos FROM device_list_change_devices WHERE user_id = ? AND pos < ? ORDER BY pos DESC LIMIT 1'),
      changedBetween: db.prepare(
        `SELECT DISTINCT user_id, observer FROM device_list_changes WHERE pos > ? AND pos <= ? AND (observer = '' OR observer = ?)`,
      ),
      after: db.prepare(
        `SELECT c.user_id, c.observer, c.pos, d.device_id FROM device_list_changes c LEFT JOIN device_list_change_devices d ON d.pos = c.pos
         WHERE c.pos > ? ORDER BY c.pos LIMIT ?`,
      ),
      // Membership events after `from` in rooms the user is or was in (a range scan of the stream, then one
      // primary-key lookup per event).
      memberEvents: db.prepare(
        `SELECT e.room_id, e.state_key FROM events e
         JOIN memberships m ON m.room_id = e.room_id AND m.user_id = ?
         WHERE e.pos > ? AND e.pos <= ? AND e.type = 'm.room.member' ORDER BY e.pos`,
      ),
      membership: db.prepare('SELECT membership FROM memberships WHERE room_id = ? AND user_id = ?'),
      members: db.prepare("SELECT user_id FROM memberships WHERE room_id = ? AND membership IN ('join', 'invite')"),
      sharesRoom: db.prepare(
        `SELECT 1 FROM memberships a JOIN memberships b ON b.room_id = a.room_id
         WHERE a.user_id = ? AND a.membership = 'join' AND b.user_id = ? AND b.membership IN ('join', 'invite') LIMIT 1`,
      ),
      roomsOf: db.prepare("SELECT room_id FROM memberships WHERE user_id = ? AND membership IN ('join', 'invite')"),
    };
  }

  /** Records a change of `userId`'s devices or keys; call inside the transaction that made it. */
  record(userId: string, observer: string | null = null, deviceId: string | null = null): void {
    const change: DeviceListChange = { pos: this.counter.next(), userId, observer, deviceId };
    this.s.record.run(change.pos, userId, observer ?? '');
    if (deviceId !== null && observer === null) this.s.recordDevice.run(change.pos, userId, deviceId);
    for (const l of [...this.listeners]) l(change);
  }

  /** Called right after each record (the listener must not throw into the writer). */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The position of the user's last change of a device seen by everyone, before `before`: the `prev_id` of
   * the next m.device_list_update and the `stream_id` of user/devices. Null when there was none.
   */
  lastDeviceChange(userId: string, before = Number.MAX_SAFE_INTEGER): number | null {
    return (this.s.lastDeviceChange.get(userId, before) as { pos: number } | undefined)?.pos ?? null;
  }

  /** Changes after `after`, oldest first: what an appservice has not been told yet. */
  changesAfter(after: number, limit: number): DeviceListChange[] {
    const rows = this.s.after.all(after, limit) as Array<{ user_id: string; observer: string; pos: number; device_id: string | null }>;
    return rows.map((r) => ({ pos: r.pos, userId: r.user_id, observer: r.observer === '' ? null : r.observer, deviceId: r.device_id }));
  }

  /** Rooms where the user is joined or invited: who to wake when their devices change. */
  roomsOf(userId: string): string[] {
    return (this.s.roomsOf.all(userId) as Array<{ room_id: string }>).map((r) => r.room_id);
  }

  sharesRoom(userId: string, other: string): boolean {
    return this.s.sharesRoom.get(userId, other) !== undefined;
  }

  /**
   * What `userId` must re-fetch (`changed`) or may stop tracking (`left`) for the stream range (from, to]:
   * users sharing a room with them whose keys changed (themselves included), users who newly share a
   * room with them, and users who no longer share any.
   */
  changesFor(userId: string, from: number, to: number): DeviceListChanges {
    const changed = new Set<string>();
    for (const row of this.s.changedBetween.all(from, to, userId) as Array<{ user_id: string; observer: string }>) {
      if (row.observer !== '' || row.user_id === userId || this.sharesRoom(userId, row.user_id)) changed.add(row.user_id);
    }
    const mayHaveLeft = new Set<string>();
    const seen = new Set<string>();
    for (const row of this.s.memberEvents.all(userId, from, to) as Array<{ room_id: string; state_key: string }>) {
      const key = `${row.room_id}\u0000${row.state_key}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const mine = this.membership(row.room_id, userId);
      if (row.state_key === userId) {
        // The user joined (everyone there is new to them) or left (everyone there may be gone).
        const target = mine === 'join' ? changed : mayHaveLeft;
        for (const m of this.s.members.all(row.room_id) as Array<{ user_id: string }>) {
          if (m.user_id !== userId) target.add(m.user_id);
        }
      } else if (mine === 'join') {
        (SHARING.has(this.membership(row.room_id, row.state_key) ?? '') ? changed : mayHaveLeft).add(row.state_key);
      }
    }
    const left = [...mayHaveLeft].filter((u) => !changed.has(u) && !this.sharesRoom(userId, u));
    return { changed: [...changed].sort(), left: left.sort() };
  }

  private membership(roomId: string, userId: string): string | null {
    return (this.s.membership.get(roomId, userId) as { membership: string } | undefined)?.membership ?? null;
  }
}
