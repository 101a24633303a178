// Local accounts: users, their devices and access tokens, and their global profile.
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import type { UserDirectory } from '../contracts.js';
import { randomLetters, randomToken } from '../ids/MatrixIds.js';

export interface Session {
  userId: string;
  deviceId: string;
  accessToken: string;
}

export interface Profile {
  displayname: string | null;
  avatar_url: string | null;
}

export interface DeviceInfo {
  device_id: string;
  display_name: string | null;
  last_seen_ip: string | null;
  last_seen_ts: number | null;
}

/** Where and when a device made an authenticated request. */
export interface DeviceSighting {
  userId: string;
  deviceId: string;
  ip: string;
  ts: number;
}

export class AccountStore implements UserDirectory {
  private readonly stmts;

  constructor(private readonly db: SqlDatabase) {
    this.stmts = {
      user: db.prepare('SELECT user_id, password_hash, appservice_id, displayname, avatar_url FROM users WHERE user_id = ?'),
      insertUser: db.prepare(
        'INSERT INTO users (user_id, password_hash, created_ts, appservice_id, displayname) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      device: db.prepare('SELECT device_id, display_name, last_seen_ip, last_seen_ts FROM devices WHERE user_id = ? AND device_id = ?'),
      devices: db.prepare('SELECT device_id, display_name, last_seen_ip, last_seen_ts FROM devices WHERE user_id = ? ORDER BY device_id'),
      upsertDevice: db.prepare(
        `INSERT INTO devices (user_id, device_id, display_name, created_ts) VALUES (?, ?, ?, ?)
         ON CONFLICT(user_id, device_id) DO UPDATE SET display_name = COALESCE(excluded.display_name, devices.display_name)`,
      ),
      renameDevice: db.prepare('UPDATE devices SET display_name = ? WHERE user_id = ? AND device_id = ?'),
      deleteDevice: db.prepare('DELETE FROM devices WHERE user_id = ? AND device_id = ?'),
      tokenSession: db.prepare('SELECT user_id, device_id FROM access_tokens WHERE token = ?'),
      insertToken: db.prepare('INSERT INTO access_tokens (token, user_id, device_id, created_ts) VALUES (?, ?, ?, ?)'),
      deleteToken: db.prepare('DELETE FROM access_tokens WHERE token = ?'),
      deleteDeviceTokens: db.prepare('DELETE FROM access_tokens WHERE user_id = ? AND device_id = ?'),
      deleteUserTokens: db.prepare('DELETE FROM access_tokens WHERE user_id = ?'),
      deleteUserDevices: db.prepare('DELETE FROM devices WHERE user_id = ?'),
      setDisplayname: db.prepare('UPDATE users SET displayname = ? WHERE user_id = ?'),
      setAvatar: db.prepare('UPDATE users SET avatar_url = ? WHERE user_id = ?'),
      seenDevice: db.prepare('UPDATE devices SET last_seen_ip = ?, last_seen_ts = ? WHERE user_id = ? AND device_id = ?'),
      userCount: db.prepare('SELECT COUNT(*) AS n FROM users'),
    };
  }

  exists(userId: string): boolean {
    return this.stmts.user.get(userId) !== undefined;
  }

  hasDevice(userId: string, deviceId: string): boolean {
    return this.stmts.device.get(userId, deviceId) !== undefined;
  }

  passwordHash(userId: string): string | null {
    const row = this.stmts.user.get(userId) as { password_hash: string | null } | undefined;
    return row?.password_hash ?? null;
  }

  /** Creates the account; false when the user ID is taken. The displayname starts as the localpart. */
  createUser(userId: string, passwordHash: string | null, appserviceId: string | null): boolean {
    const localpart = userId.slice(1, userId.indexOf(':'));
    const r = this.stmts.insertUser.run(userId, passwordHash, Date.now(), appserviceId, localpart);
    return r.changes === 1;
  }

  /** Logs a device in: creates (or reuses) the device and mints a new access token. */
  createSession(userId: string, deviceId: string | null, displayName: string | null): Session {
    const device = deviceId ?? randomLetters(10).toUpperCase();
    const token = `pb_${randomToken(30)}`;
    this.db.transaction(() => {
      this.stmts.upsertDevice.run(userId, device, displayName, Date.now());
      this.stmts.insertToken.run(token, userId, device, Date.now());
    })();
    return { userId, deviceId: device, accessToken: token };
  }

  /** Registers a device without a token (appservices create devices for their users). */
  ensureDevice(userId: string, deviceId: string, displayName: string | null): void {
    this.stmts.upsertDevice.run(userId, deviceId, displayName, Date.now());
  }

  sessionForToken(token: string): { userId: string; deviceId: string } | null {
    const row = this.stmts.tokenSession.get(token) as { user_id: string; device_id: string } | undefined;
    return row ? { userId: row.user_id, deviceId: row.device_id } : null;
  }

  logoutAll(userId: string): void {
    this.db.transaction(() => {
      this.stmts.deleteUserTokens.run(userId);
      this.stmts.deleteUserDevices.run(userId);
    })();
  }

  devices(userId: string): DeviceInfo[] {
    return this.stmts.devices.all(userId) as DeviceInfo[];
  }

  device(userId: string, deviceId: string): DeviceInfo | null {
    return (this.stmts.device.get(userId, deviceId) as DeviceInfo | undefined) ?? null;
  }

  renameDevice(userId: string, deviceId: string, displayName: string): void {
    this.stmts.renameDevice.run(displayName, userId, deviceId);
  }

  deleteDevice(userId: string, deviceId: string): void {
    this.db.transaction(() => {
      this.stmts.deleteDeviceTokens.run(userId, deviceId);
      this.stmts.deleteDevice.run(userId, deviceId);
    })();
  }

  /** Records many sightings in one transaction (DeviceActivity batches them). */
  recordSightings(sightings: Iterable<DeviceSighting>): void {
    this.db.transaction(() => {
      for (const s of sightings) this.stmts.seenDevice.run(s.ip, s.ts, s.userId, s.deviceId);
    })();
  }

  profile(userId: string): Profile | null {
    const row = this.stmts.user.get(userId) as Profile | undefined;
    return row ? { displayname: row.displayname, avatar_url: row.avatar_url } : null;
  }

  setDisplayname(userId: string, name: string | null): void {
    this.stmts.setDisplayname.run(name, userId);
  }

  setAvatarUrl(userId: string, url: string | null): void {
    this.stmts.setAvatar.run(url, userId);
  }

  count(): number {
    return (this.stmts.userCount.get() as { n: number }).n;
  }
}
