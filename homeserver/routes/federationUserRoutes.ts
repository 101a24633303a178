// What other servers ask about this server's users for end-to-end encryption: their devices
// (user/devices), device and cross-signing keys (user/keys/query) and one-time keys (user/keys/claim).
// Users of other servers in a request are ignored: this server answers for its own only.
import type { RequestHandler } from 'express';
import type { HomeserverContext } from '../HomeserverContext.js';
import { LocalKeyQueries } from '../e2ee/LocalKeyQueries.js';
import { body, isJsonObject, param, type JsonObject } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';
import { MatrixError } from '../MatrixError.js';

export function federationUserRoutes(r: RouteTable, hs: HomeserverContext, signed: RequestHandler, localUser: (userId: string) => string): void {
  const keys = new LocalKeyQueries(hs.e2ee, hs.accounts);
  const isLocal = (userId: string): boolean => hs.resolver.isLocal(userId, '@');

  r.get('/user/devices/:userId', signed, (req, res) => {
    const userId = localUser(param(req, 'userId'));
    if (!hs.accounts.exists(userId)) throw new MatrixError(404, 'M_NOT_FOUND', `No user ${userId}`);
    // The position of its last device change: the next m.device_list_update names it in prev_id.
    res.json(keys.devices(userId, hs.e2ee.deviceLists.lastDeviceChange(userId) ?? 0));
  });

  r.post('/user/keys/query', signed, (req, res) => {
    const wanted = body(req).optObject('device_keys');
    if (!wanted) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing "device_keys"');
    const out = { device_keys: {}, master_keys: {}, self_signing_keys: {}, user_signing_keys: {} };
    for (const [userId, devices] of Object.entries(wanted)) {
      if (!Array.isArray(devices) || devices.some((d) => typeof d !== 'string')) {
        throw new MatrixError(400, 'M_BAD_JSON', `device_keys.${userId} must be a list of device IDs`);
      }
      if (isLocal(userId)) keys.query(userId, devices as string[], null, out);
    }
    res.json({ device_keys: out.device_keys, master_keys: out.master_keys, self_signing_keys: out.self_signing_keys });
  });

  r.post('/user/keys/claim', signed, (req, res) => {
    const wanted = body(req).optObject('one_time_keys');
    if (!wanted) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing "one_time_keys"');
    const out: Record<string, JsonObject> = {};
    for (const [userId, byDevice] of Object.entries(wanted)) {
      if (!isJsonObject(byDevice) || Object.values(byDevice).some((a) => typeof a !== 'string')) {
        throw new MatrixError(400, 'M_BAD_JSON', `one_time_keys.${userId} must map device IDs to algorithm names`);
      }
      if (isLocal(userId)) keys.claim(userId, byDevice as Record<string, string>, out);
    }
    res.json({ one_time_keys: out });
  });
}
