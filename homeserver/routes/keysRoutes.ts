// End-to-end encryption keys: upload, query, claim, changes, cross-signing keys and signatures. The
// server stores and hands out what devices publish; it never sees a message key. Queries and claims
// about users of other servers are asked of those servers (in parallel, each bounded by the client's
// `timeout`); a server that fails is named in `failures`.
import type { Requester } from '../contracts.js';
import type { HomeserverContext } from '../HomeserverContext.js';
import { MatrixError } from '../MatrixError.js';
import { checkCrossSigningUpload } from '../e2ee/CrossSigningUpload.js';
import type { KeyObject } from '../e2ee/DeviceKeyStore.js';
import { splitKeyName } from '../e2ee/OneTimeKeyStore.js';
import { uploadSignatures } from '../e2ee/SignatureUpload.js';
import { emptyQueriedKeys, LocalKeyQueries } from '../e2ee/LocalKeyQueries.js';
import { failureOf } from '../federation/queries/RemoteQueries.js';
import { type Body, body, isJsonObject, query, requesterOf, type JsonObject } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';
import { parseId } from '../ids/MatrixIds.js';
import { parseToken } from '../sync/SyncToken.js';

type KeyMap = Record<string, KeyObject | string>;

export function keysRoutes(r: RouteTable, hs: HomeserverContext): void {
  const auth = hs.auth.required;
  const { e2ee } = hs;
  const isLocal = (userId: string): boolean => hs.resolver.isLocal(userId, '@');
  const localKeys = new LocalKeyQueries(e2ee, hs.accounts);

  r.post('/keys/upload', auth, (req, res) => {
    const me = requesterOf(res);
    const deviceId = deviceOf(me);
    const b = body(req);
    const deviceKeys = b.optObject('device_keys');
    const oneTimeKeys = keyMap(b.optObject('one_time_keys'), 'one_time_keys');
    // The MSC2732 name, which clients older than spec v1.2 send.
    const fallbackKeys = keyMap(b.optObject('fallback_keys') ?? b.optObject('org.matrix.msc2732.fallback_keys'), 'fallback_keys');
    if (deviceKeys) checkDeviceKeys(deviceKeys, me.userId, deviceId);
    hs.db.transaction(() => {
      if (deviceKeys && e2ee.deviceKeys.put(me.userId, deviceId, deviceKeys)) e2ee.deviceLists.record(me.userId, null, deviceId);
      if (oneTimeKeys) e2ee.oneTimeKeys.add(me.userId, deviceId, oneTimeKeys);
      if (fallbackKeys) e2ee.oneTimeKeys.setFallback(me.userId, deviceId, fallbackKeys);
    })();
    res.json({ one_time_key_counts: e2ee.oneTimeKeys.counts(me.userId, deviceId) });
  });

  /** Users of other servers, grouped by server; with federation off, each server is a failure. */
  const byServer = <T>(wanted: Array<[string, T]>, failures: JsonObject): Map<string, Record<string, T>> => {
    const groups = new Map<string, Record<string, T>>();
    for (const [userId, value] of wanted) {
      const server = parseId(userId, '@')?.server ?? userId;
      if (!hs.federation) failures[server] = { errcode: 'M_UNRECOGNIZED', error: 'This server does not federate' };
      else (groups.get(server) ?? groups.set(server, {}).get(server)!)[userId] = value;
    }
    return groups;
  };
  /** The client's `timeout` for other servers' answers, at most homeserver.federation.query_timeout_ms. */
  const remoteTimeout = (b: Body): number => {
    const most = hs.federation?.options.queryTimeoutMs ?? 0;
    return Math.max(1, Math.min(b.optInt('timeout') ?? most, most));
  };

  r.post('/keys/query', auth, async (req, res) => {
    const me = requesterOf(res);
    const b = body(req);
    const wanted = b.optObject('device_keys');
    if (!wanted) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing "device_keys"');
    const out = { failures: {} as JsonObject, ...emptyQueriedKeys() };
    const remote: Array<[string, string[]]> = [];
    for (const [userId, devices] of Object.entries(wanted)) {
      if (!Array.isArray(devices) || devices.some((d) => typeof d !== 'string')) {
        throw new MatrixError(400, 'M_BAD_JSON', `device_keys.${userId} must be a list of device IDs`);
      }
      if (isLocal(userId)) localKeys.query(userId, devices as string[], me.userId, out);
      else remote.push([userId, devices as string[]]);
    }
    const timeoutMs = remoteTimeout(b);
    await Promise.all(
      [...byServer(remote, out.failures)].map(async ([server, users]) => {
        try {
          const got = await hs.federation!.queries.keysQuery(server, users, timeoutMs);
          Object.assign(out.device_keys, got.device_keys);
          Object.assign(out.master_keys, got.master_keys);
          Object.assign(out.self_signing_keys, got.self_signing_keys);
        } catch (err) {
          out.failures[server] = failureOf(err);
        }
      }),
    );
    res.json(out);
  });

  r.post('/keys/claim', auth, async (req, res) => {
    const b = body(req);
    const wanted = b.optObject('one_time_keys');
    if (!wanted) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing "one_time_keys"');
    const out = { failures: {} as JsonObject, one_time_keys: {} as Record<string, JsonObject> };
    const remote: Array<[string, Record<string, string>]> = [];
    for (const [userId, byDevice] of Object.entries(wanted)) {
      if (!isJsonObject(byDevice)) throw new MatrixError(400, 'M_BAD_JSON', `one_time_keys.${userId} must be an object`);
      for (const [deviceId, algorithm] of Object.entries(byDevice)) {
        if (typeof algorithm !== 'string') throw new MatrixError(400, 'M_BAD_JSON', `one_time_keys.${userId}.${deviceId} must be an algorithm name`);
      }
      if (isLocal(userId)) localKeys.claim(userId, byDevice as Record<string, string>, out.one_time_keys);
      else remote.push([userId, byDevice as Record<string, string>]);
    }
    const timeoutMs = remoteTimeout(b);
    await Promise.all(
      [...byServer(remote, out.failures)].map(async ([server, users]) => {
        try {
          Object.assign(out.one_time_keys, await hs.federation!.queries.keysClaim(server, users, timeoutMs));
        } catch (err) {
          out.failures[server] = failureOf(err);
        }
      }),
    );
    res.json(out);
  });

  r.get('/keys/changes', auth, (req, res) => {
    const me = requesterOf(res);
    const fromRaw = query(req, 'from');
    if (fromRaw === undefined) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing "from"');
    const toRaw = query(req, 'to');
    const now = hs.counter.current();
    const from = Math.min(parseToken(fromRaw, 'from').pos, now);
    const to = toRaw === undefined ? now : Math.min(parseToken(toRaw, 'to').pos, now);
    res.json(e2ee.deviceLists.changesFor(me.userId, from, Math.max(from, to)));
  });

  r.post('/keys/device_signing/upload', auth, async (req, res) => {
    const me = requesterOf(res);
    const deviceIds = new Set(hs.accounts.devices(me.userId).map((d) => d.device_id));
    const upload = checkCrossSigningUpload(e2ee.crossSigning, me.userId, deviceIds, body(req).raw);
    if (upload.needsAuth && !(await hs.uiAuth.check(req, res, me, 'cross_signing'))) return;
    if (upload.keys.length > 0) {
      hs.db.transaction(() => {
        for (const k of upload.keys) e2ee.crossSigning.put(me.userId, k.usage, k.publicKey, k.key);
        e2ee.deviceLists.record(me.userId);
      })();
    }
    res.json({});
  });

  r.post('/keys/signatures/upload', auth, (req, res) => {
    const me = requesterOf(res);
    const b = body(req).raw;
    const result = hs.db.transaction(() => uploadSignatures(e2ee, me.userId, isLocal, b))();
    res.json(result);
  });
}

/** Keys belong to a device: an appservice must name one (`device_id`) for the user it acts as. */
function deviceOf(me: Requester): string {
  if (me.deviceId === null) throw new MatrixError(400, 'M_MISSING_PARAM', 'To upload keys, authenticate with a device (device_id)');
  return me.deviceId;
}

function keyMap(map: JsonObject | undefined, field: string): KeyMap | undefined {
  if (!map) return undefined;
  for (const [name, key] of Object.entries(map)) {
    splitKeyName(name);
    const signaturesOk = (k: JsonObject): boolean => k['signatures'] === undefined || isJsonObject(k['signatures']);
    const ok = typeof key === 'string' || (isJsonObject(key) && typeof key['key'] === 'string' && signaturesOk(key));
    if (!ok) throw new MatrixError(400, 'M_BAD_JSON', `${field}.${name} must be a key string or {"key": ..., "signatures": ...}`);
  }
  return map as KeyMap;
}

/** The DeviceKeys object must describe the uploading device, with the spec's required fields. */
function checkDeviceKeys(keys: JsonObject, userId: string, deviceId: string): void {
  if (keys['user_id'] !== userId || keys['device_id'] !== deviceId) {
    throw new MatrixError(400, 'M_INVALID_PARAM', `device_keys must have user_id ${userId} and device_id ${deviceId}`);
  }
  const algorithms = keys['algorithms'];
  if (!Array.isArray(algorithms) || algorithms.some((a) => typeof a !== 'string')) {
    throw new MatrixError(400, 'M_BAD_JSON', 'device_keys.algorithms must be a list of strings');
  }
  const publicKeys = keys['keys'];
  if (!isJsonObject(publicKeys) || Object.values(publicKeys).some((k) => typeof k !== 'string')) {
    throw new MatrixError(400, 'M_BAD_JSON', 'device_keys.keys must map key IDs to strings');
  }
  if (!isJsonObject(keys['signatures'])) throw new MatrixError(400, 'M_BAD_JSON', 'device_keys.signatures must be an object');
}
