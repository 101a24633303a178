// Server-side key backups (room_keys/*). The server stores what the client encrypted; it only compares the
// plaintext metadata to keep the better of two copies of a session, as the spec says: verified beats
// unverified, then the lower first_message_index, then the lower forwarded_count. Each change to a
// version's keys moves its etag on.
import { MatrixError } from '../MatrixError.js';
import type { SqlDatabase } from '../storage/SqlDatabase.js';

export interface BackupVersion {
  version: string;
  algorithm: string;
  auth_data: Record<string, unknown>;
  count: number;
  etag: string;
}

export interface BackedUpSession {
  first_message_index: number;
  forwarded_count: number;
  is_verified: boolean;
  session_data: Record<string, unknown>;
}

/** room ID -> session ID -> key data. */
export type BackupKeys = Map<string, Map<string, BackedUpSession>>;

interface VersionRow {
  version: number;
  algorithm: string;
  auth_data: string;
  etag: number;
  deleted: number;
}

interface SessionRow {
  room_id: string;
  session_id: string;
  first_message_index: number;
  forwarded_count: number;
  is_verified: number;
  session_data: string;
}

export class KeyBackupStore {
  private readonly s;

  constructor(private readonly db: SqlDatabase) {
    this.s = {
      latest: db.prepare('SELECT * FROM key_backup_versions WHERE user_id = ? ORDER BY version DESC LIMIT 1'),
      version: db.prepare('SELECT * FROM key_backup_versions WHERE user_id = ? AND version = ?'),
      insert: db.prepare('INSERT INTO key_backup_versions (user_id, version, algorithm, auth_data) VALUES (?, ?, ?, ?)'),
      updateAuth: db.prepare('UPDATE key_backup_versions SET auth_data = ? WHERE user_id = ? AND version = ?'),
      markDeleted: db.prepare('UPDATE key_backup_versions SET deleted = 1 WHERE user_id = ? AND version = ?'),
      bumpEtag: db.prepare('UPDATE key_backup_versions SET etag = etag + 1 WHERE user_id = ? AND version = ?'),
      count: db.prepare('SELECT COUNT(*) AS n FROM key_backup_sessions WHERE user_id = ? AND version = ?'),
      session: db.prepare(
        'SELECT * FROM key_backup_sessions WHERE user_id = ? AND version = ? AND room_id = ? AND session_id = ?',
      ),
      putSession: db.prepare(
        `INSERT INTO key_backup_sessions (user_id, version, room_id, session_id, first_message_index, forwarded_count, is_verified, session_data)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(user_id, version, room_id, session_id) DO UPDATE SET first_message_index = excluded.first_message_index,
           forwarded_count = excluded.forwarded_count, is_verified = excluded.is_verified, session_data = excluded.session_data`,
      ),
      all: db.prepare('SELECT * FROM key_backup_sessions WHERE user_id = ? AND version = ? ORDER BY room_id, session_id'),
      room: db.prepare('SELECT * FROM key_backup_sessions WHERE user_id = ? AND version = ? AND room_id = ? ORDER BY session_id'),
      deleteAll: db.prepare('DELETE FROM key_backup_sessions WHERE user_id = ? AND version = ?'),
      deleteRoom: db.prepare('DELETE FROM key_backup_sessions WHERE user_id = ? AND version = ? AND room_id = ?'),
      deleteSession: db.prepare('DELETE FROM key_backup_sessions WHERE user_id = ? AND version = ? AND room_id = ? AND session_id = ?'),
    };
  }

  /** Creates a new version, which becomes the current one. */
  create(userId: string, algorithm: string, authData: Record<string, unknown>): string {
    return this.db.transaction(() => {
      const latest = this.s.latest.get(userId) as VersionRow | undefined;
      const version = (latest?.version ?? 0) + 1;
      this.s.insert.run(userId, version, algorithm, JSON.stringify(authData));
      return String(version);
    })();
  }

  /** The current version (the newest, unless it was deleted), or null. */
  current(userId: string): BackupVersion | null {
    const row = this.s.latest.get(userId) as VersionRow | undefined;
    return row && row.deleted === 0 ? this.describe(userId, row) : null;
  }

  /** A version that exists and was not deleted; 404 otherwise. */
  get(userId: string, version: string): BackupVersion {
    return this.describe(userId, this.live(userId, version));
  }

  updateAuthData(userId: string, version: string, algorithm: string, authData: Record<string, unknown>): void {
    const row = this.live(userId, version);
    if (row.algorithm !== algorithm) throw new MatrixError(400, 'M_INVALID_PARAM', 'Algorithm does not match the backup\'s');
    this.s.updateAuth.run(JSON.stringify(authData), userId, row.version);
  }

  /** Deletes a version and its keys; deleting it again is fine, an unknown version is 404. */
  delete(userId: string, version: string): void {
    const row = this.s.version.get(userId, versionNumber(version)) as VersionRow | undefined;
    if (!row) throw unknownVersion();
    this.db.transaction(() => {
      this.s.deleteAll.run(userId, row.version);
      this.s.markDeleted.run(userId, row.version);
    })();
  }

  /**
   * Stores sessions into the current version, keeping the better copy of each. Writing to another version
   * is 403 M_WRONG_ROOM_KEYS_VERSION with the current one, as the spec says.
   */
  put(userId: string, version: string, keys: BackupKeys): { etag: string; count: number } {
    return this.db.transaction(() => {
      const current = this.s.latest.get(userId) as VersionRow | undefined;
      if (!current || current.deleted === 1) throw unknownVersion();
      if (String(current.version) !== version) {
        throw new MatrixError(403, 'M_WRONG_ROOM_KEYS_VERSION', 'Wrong backup version.', { current_version: String(current.version) });
      }
      let changed = false;
      for (const [roomId, sessions] of keys) {
        for (const [sessionId, data] of sessions) {
          const existing = this.s.session.get(userId, current.version, roomId, sessionId) as SessionRow | undefined;
          if (existing && !isBetter(data, fromRow(existing))) continue;
          this.s.putSession.run(
            userId, current.version, roomId, sessionId, data.first_message_index, data.forwarded_count,
            data.is_verified ? 1 : 0, JSON.stringify(data.session_data),
          );
          changed = true;
        }
      }
      if (changed) this.s.bumpEtag.run(userId, current.version);
      const after = this.describe(userId, this.s.version.get(userId, current.version) as VersionRow);
      return { etag: after.etag, count: after.count };
    })();
  }

  /** Keys of a version: all of them, one room's, or one session's (null when that session is absent). */
  keys(userId: string, version: string, roomId?: string, sessionId?: string): BackupKeys {
    const row = this.live(userId, version);
    let rows: SessionRow[];
    if (roomId === undefined) rows = this.s.all.all(userId, row.version) as SessionRow[];
    else if (sessionId === undefined) rows = this.s.room.all(userId, row.version, roomId) as SessionRow[];
    else rows = [this.s.session.get(userId, row.version, roomId, sessionId) as SessionRow | undefined].filter((r) => r !== undefined);
    const out: BackupKeys = new Map();
    for (const r of rows) {
      let sessions = out.get(r.room_id);
      if (!sessions) out.set(r.room_id, (sessions = new Map()));
      sessions.set(r.session_id, fromRow(r));
    }
    return out;
  }

  deleteKeys(userId: string, version: string, roomId?: string, sessionId?: string): { etag: string; count: number } {
    return this.db.transaction(() => {
      const row = this.live(userId, version);
      const removed =
        roomId === undefined
          ? this.s.deleteAll.run(userId, row.version)
          : sessionId === undefined
            ? this.s.deleteRoom.run(userId, row.version, roomId)
            : this.s.deleteSession.run(userId, row.version, roomId, sessionId);
      if (removed.changes > 0) this.s.bumpEtag.run(userId, row.version);
      const after = this.describe(userId, this.s.version.get(userId, row.version) as VersionRow);
      return { etag: after.etag, count: after.count };
    })();
  }

  private live(userId: string, version: string): VersionRow {
    const row = this.s.version.get(userId, versionNumber(version)) as VersionRow | undefined;
    if (!row || row.deleted === 1) throw unknownVersion();
    return row;
  }

  private describe(userId: string, row: VersionRow): BackupVersion {
    return {
      version: String(row.version),
      algorithm: row.algorithm,
      auth_data: JSON.parse(row.auth_data) as Record<string, unknown>,
      count: (this.s.count.get(userId, row.version) as { n: number }).n,
      etag: String(row.etag),
    };
  }
}

function fromRow(r: SessionRow): BackedUpSession {
  return {
    first_message_index: r.first_message_index,
    forwarded_count: r.forwarded_count,
    is_verified: r.is_verified === 1,
    session_data: JSON.parse(r.session_data) as Record<string, unknown>,
  };
}

/** The spec's order: is_verified, then the lower first_message_index, then the lower forwarded_count. */
function isBetter(candidate: BackedUpSession, existing: BackedUpSession): boolean {
  if (candidate.is_verified !== existing.is_verified) return candidate.is_verified;
  if (candidate.first_message_index !== existing.first_message_index) return candidate.first_message_index < existing.first_message_index;
  return candidate.forwarded_count < existing.forwarded_count;
}

/** Versions are the decimal numbers this server hands out; anything else names no backup. */
function versionNumber(version: string): number {
  return /^[1-9]\d{0,14}$/.test(version) ? Number(version) : -1;
}

function unknownVersion(): MatrixError {
  return new MatrixError(404, 'M_NOT_FOUND', 'Unknown backup version');
}
