// Devices: list, rename, create (appservices) and delete. Deleting needs the user's password (UIA) and
// takes the device's keys with it, which the user's peers learn through their device lists.
import type { DeviceInfo } from '../accounts/AccountStore.js';
import type { HomeserverContext } from '../HomeserverContext.js';
import { MatrixError } from '../MatrixError.js';
import { body, param, requesterOf } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';

export function deviceRoutes(r: RouteTable, hs: HomeserverContext): void {
  const { accounts } = hs;
  const auth = hs.auth.required;

  // Every key is sent, null when unknown, as Synapse does: matrix-nio rejects a device list without them.
  const deviceJson = (userId: string, stored: DeviceInfo): Record<string, unknown> => {
    const d = hs.deviceActivity.current(userId, stored);
    return { device_id: d.device_id, display_name: d.display_name, last_seen_ip: d.last_seen_ip, last_seen_ts: d.last_seen_ts };
  };

  r.get('/devices', auth, (_req, res) => {
    const me = requesterOf(res);
    res.json({ devices: accounts.devices(me.userId).map((d) => deviceJson(me.userId, d)) });
  });

  r.get('/devices/:deviceId', auth, (req, res) => {
    const me = requesterOf(res);
    const d = accounts.device(me.userId, param(req, 'deviceId'));
    if (!d) throw new MatrixError(404, 'M_NOT_FOUND', 'Unknown device');
    res.json(deviceJson(me.userId, d));
  });

  // Appservices create their users' devices (spec v1.17); users can only rename theirs.
  r.put('/devices/:deviceId', auth, (req, res) => {
    const me = requesterOf(res);
    const deviceId = param(req, 'deviceId');
    const name = body(req).optString('display_name');
    if (accounts.device(me.userId, deviceId)) {
      if (name !== undefined) accounts.renameDevice(me.userId, deviceId, name);
    } else if (me.appserviceId) {
      accounts.ensureDevice(me.userId, deviceId, name ?? null);
    } else {
      throw new MatrixError(404, 'M_NOT_FOUND', 'Unknown device');
    }
    res.json({});
  });

  // "Successfully removed, or had been removed previously": an unknown device is 200 once authorised.
  r.delete('/devices/:deviceId', auth, async (req, res) => {
    const me = requesterOf(res);
    if (!(await hs.uiAuth.check(req, res, me, 'delete_devices'))) return;
    hs.deviceDeletion.delete(me.userId, [param(req, 'deviceId')]);
    res.json({});
  });

  r.post('/delete_devices', auth, async (req, res) => {
    const me = requesterOf(res);
    const ids = body(req).optStringList('devices');
    if (!ids) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing "devices"');
    if (!(await hs.uiAuth.check(req, res, me, 'delete_devices'))) return;
    hs.deviceDeletion.delete(me.userId, ids);
    res.json({});
  });
}
