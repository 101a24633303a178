// Pushers (POST /pushers/set): one per user, app_id and pushkey, each with how far it has sent the
// user's notifications (last_pos) and since when its gateway fails, so a restart resumes where it was.
import type { SqlDatabase } from '../storage/SqlDatabase.js';

export interface Pusher {
  user_id: string;
  app_id: string;
  pushkey: string;
  kind: string;
  app_display_name: string;
  device_display_name: string;
  profile_tag: string | null;
  lang: string;
  data: Record<string, unknown>;
  /** The device that set it: deleting the device (or logging it out) deletes its pushers. */
  device_id: string | null;
  /** When the pushkey was set, in seconds (the gateway API's pushkey_ts). */
  pushkey_ts: number;
  last_pos: number;
  failing_since: number | null;
}

interface PusherRow extends Omit<Pusher, 'data'> {
  data: string;
}

export type PusherKey = Pick<Pusher, 'user_id' | 'app_id' | 'pushkey'>;

export function pusherKeyString(k: PusherKey): string {
  return JSON.stringify([k.user_id, k.app_id, k.pushkey]);
}

function fromRow(r: PusherRow): Pusher {
  return { ...r, data: JSON.parse(r.data) as Record<string, unknown> };
}

export class PusherStore {
  private readonly s;

  constructor(private readonly db: SqlDatabase) {
    this.s = {
      upsert: db.prepare(
        `INSERT INTO pushers (user_id, app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, lang, data,
           device_id, pushkey_ts, last_pos, failing_since)
         VALUES (@user_id, @app_id, @pushkey, @kind, @app_display_name, @device_display_name, @profile_tag, @lang, @data,
           @device_id, @pushkey_ts, @last_pos, NULL)
         ON CONFLICT(user_id, app_id, pushkey) DO UPDATE SET kind = excluded.kind, app_display_name = excluded.app_display_name,
           device_display_name = excluded.device_display_name, profile_tag = excluded.profile_tag, lang = excluded.lang,
           data = excluded.data, device_id = excluded.device_id`,
      ),
      get: db.prepare('SELECT * FROM pushers WHERE user_id = ? AND app_id = ? AND pushkey = ?'),
      ofUser: db.prepare('SELECT * FROM pushers WHERE user_id = ? ORDER BY app_id, pushkey'),
      all: db.prepare('SELECT * FROM pushers'),
      remove: db.prepare('DELETE FROM pushers WHERE user_id = ? AND app_id = ? AND pushkey = ?'),
      othersWithKey: db.prepare('SELECT * FROM pushers WHERE app_id = ? AND pushkey = ? AND user_id != ?'),
      ofDevice: db.prepare('SELECT * FROM pushers WHERE user_id = ? AND device_id = ?'),
      advance: db.prepare('UPDATE pushers SET last_pos = MAX(last_pos, ?), failing_since = NULL WHERE user_id = ? AND app_id = ? AND pushkey = ?'),
      failing: db.prepare('UPDATE pushers SET failing_since = ? WHERE user_id = ? AND app_id = ? AND pushkey = ?'),
    };
  }

  /**
   * Creates or updates a pusher; without `append`, the same app_id and pushkey of other users go (a phone
   * now signed in as someone else). A new pusher starts at `fromPos`: it sends nothing from before. Returns
   * the pushers removed from other users.
   */
  set(p: Omit<Pusher, 'last_pos' | 'failing_since'>, fromPos: number, append: boolean): PusherKey[] {
    return this.db.transaction(() => {
      const removed = append ? [] : (this.s.othersWithKey.all(p.app_id, p.pushkey, p.user_id) as PusherRow[]);
      for (const r of removed) this.s.remove.run(r.user_id, r.app_id, r.pushkey);
      this.s.upsert.run({ ...p, data: JSON.stringify(p.data), last_pos: fromPos });
      return removed.map((r) => ({ user_id: r.user_id, app_id: r.app_id, pushkey: r.pushkey }));
    })();
  }

  get(k: PusherKey): Pusher | null {
    const row = this.s.get.get(k.user_id, k.app_id, k.pushkey) as PusherRow | undefined;
    return row ? fromRow(row) : null;
  }

  ofUser(userId: string): Pusher[] {
    return (this.s.ofUser.all(userId) as PusherRow[]).map(fromRow);
  }

  all(): Pusher[] {
    return (this.s.all.all() as PusherRow[]).map(fromRow);
  }

  remove(k: PusherKey): boolean {
    return this.s.remove.run(k.user_id, k.app_id, k.pushkey).changes > 0;
  }

  /** Deletes a device's pushers (call inside the device deletion's transaction). */
  removeForDevice(userId: string, deviceId: string): void {
    for (const r of this.s.ofDevice.all(userId, deviceId) as PusherRow[]) this.s.remove.run(r.user_id, r.app_id, r.pushkey);
  }

  /** The notifications up to `pos` are done; the gateway answers again. */
  advance(k: PusherKey, pos: number): void {
    this.s.advance.run(pos, k.user_id, k.app_id, k.pushkey);
  }

  setFailingSince(k: PusherKey, ts: number | null): void {
    this.s.failing.run(ts, k.user_id, k.app_id, k.pushkey);
  }
}
