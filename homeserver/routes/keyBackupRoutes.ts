// Server-side key backups: /room_keys/version (create, get, update, delete) and /room_keys/keys at three
// levels (all rooms, one room, one session). The backed-up keys are encrypted by the client.
import type { Request } from 'express';
import type { HomeserverContext } from '../HomeserverContext.js';
import { MatrixError } from '../MatrixError.js';
import type { BackedUpSession, BackupKeys } from '../e2ee/KeyBackupStore.js';
import { body, content, isJsonObject, param, query, requesterOf, type JsonObject } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';

export function keyBackupRoutes(r: RouteTable, hs: HomeserverContext): void {
  const auth = hs.auth.required;
  const backup = hs.e2ee.backup;

  r.post('/room_keys/version', auth, (req, res) => {
    const b = body(req);
    res.json({ version: backup.create(requesterOf(res).userId, b.string('algorithm'), authData(b.optObject('auth_data'))) });
  });

  r.get('/room_keys/version', auth, (_req, res) => {
    const current = backup.current(requesterOf(res).userId);
    if (!current) throw new MatrixError(404, 'M_NOT_FOUND', 'No current backup version');
    res.json(current);
  });

  r.get('/room_keys/version/:version', auth, (req, res) => {
    res.json(backup.get(requesterOf(res).userId, param(req, 'version')));
  });

  r.put('/room_keys/version/:version', auth, (req, res) => {
    const b = body(req);
    const version = param(req, 'version');
    const claimed = b.optString('version');
    if (claimed !== undefined && claimed !== version) {
      throw new MatrixError(400, 'M_INVALID_PARAM', 'The version in the body does not match the path');
    }
    backup.updateAuthData(requesterOf(res).userId, version, b.string('algorithm'), authData(b.optObject('auth_data')));
    res.json({});
  });

  r.delete('/room_keys/version/:version', auth, (req, res) => {
    backup.delete(requesterOf(res).userId, param(req, 'version'));
    res.json({});
  });

  r.put('/room_keys/keys', auth, (req, res) => {
    const rooms = roomsOf(content(req));
    res.json(backup.put(requesterOf(res).userId, versionOf(req), rooms));
  });
  r.put('/room_keys/keys/:roomId', auth, (req, res) => {
    const roomId = param(req, 'roomId');
    const keys: BackupKeys = new Map([[roomId, sessionsOf(content(req), roomId)]]);
    res.json(backup.put(requesterOf(res).userId, versionOf(req), keys));
  });
  r.put('/room_keys/keys/:roomId/:sessionId', auth, (req, res) => {
    const roomId = param(req, 'roomId');
    const sessionId = param(req, 'sessionId');
    const keys: BackupKeys = new Map([[roomId, new Map([[sessionId, sessionOf(content(req), `${roomId}/${sessionId}`)]])]]);
    res.json(backup.put(requesterOf(res).userId, versionOf(req), keys));
  });

  r.get('/room_keys/keys', auth, (req, res) => {
    const keys = backup.keys(requesterOf(res).userId, versionOf(req));
    res.json({ rooms: Object.fromEntries([...keys].map(([roomId, sessions]) => [roomId, { sessions: Object.fromEntries(sessions) }])) });
  });
  r.get('/room_keys/keys/:roomId', auth, (req, res) => {
    const roomId = param(req, 'roomId');
    const sessions = backup.keys(requesterOf(res).userId, versionOf(req), roomId).get(roomId);
    res.json({ sessions: Object.fromEntries(sessions ?? []) });
  });
  r.get('/room_keys/keys/:roomId/:sessionId', auth, (req, res) => {
    const roomId = param(req, 'roomId');
    const sessionId = param(req, 'sessionId');
    const session = backup.keys(requesterOf(res).userId, versionOf(req), roomId, sessionId).get(roomId)?.get(sessionId);
    if (!session) throw new MatrixError(404, 'M_NOT_FOUND', 'Key not found');
    res.json(session);
  });

  r.delete('/room_keys/keys', auth, (req, res) => {
    res.json(backup.deleteKeys(requesterOf(res).userId, versionOf(req)));
  });
  r.delete('/room_keys/keys/:roomId', auth, (req, res) => {
    res.json(backup.deleteKeys(requesterOf(res).userId, versionOf(req), param(req, 'roomId')));
  });
  r.delete('/room_keys/keys/:roomId/:sessionId', auth, (req, res) => {
    res.json(backup.deleteKeys(requesterOf(res).userId, versionOf(req), param(req, 'roomId'), param(req, 'sessionId')));
  });
}

function versionOf(req: Request): string {
  const version = query(req, 'version');
  if (version === undefined) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing "version" query parameter');
  return version;
}

function authData(value: JsonObject | undefined): JsonObject {
  if (!value) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing "auth_data"');
  return value;
}

/** `{"rooms": {roomId: {"sessions": {...}}}}`. */
function roomsOf(raw: JsonObject): BackupKeys {
  const rooms = raw['rooms'];
  if (!isJsonObject(rooms)) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing "rooms"');
  return new Map(Object.entries(rooms).map(([roomId, room]) => [roomId, sessionsOf(room, roomId)]));
}

function sessionsOf(room: unknown, where: string): Map<string, BackedUpSession> {
  const sessions = isJsonObject(room) ? room['sessions'] : undefined;
  if (!isJsonObject(sessions)) throw new MatrixError(400, 'M_BAD_JSON', `${where}: "sessions" must be an object`);
  return new Map(Object.entries(sessions).map(([id, data]) => [id, sessionOf(data, `${where}/${id}`)]));
}

function sessionOf(data: unknown, where: string): BackedUpSession {
  if (!isJsonObject(data)) throw new MatrixError(400, 'M_BAD_JSON', `${where}: key data must be an object`);
  const { first_message_index: first, forwarded_count: forwarded, is_verified: verified, session_data: sessionData } = data;
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(forwarded) || typeof verified !== 'boolean' || !isJsonObject(sessionData)) {
    throw new MatrixError(400, 'M_BAD_JSON', `${where}: needs first_message_index, forwarded_count, is_verified and session_data`);
  }
  return { first_message_index: first as number, forwarded_count: forwarded as number, is_verified: verified, session_data: sessionData };
}
