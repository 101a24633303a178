// Where and when each device was last seen, without a database write per request: authenticated
// requests note their device here, the notes are written in one transaction every flushEveryMs and when
// the server stops, and the devices endpoints read through the notes not yet written.
import type { Logger } from 'pino';
import type { AccountStore, DeviceInfo, DeviceSighting } from './AccountStore.js';

export class DeviceActivity {
  /** Unwritten sightings by user, then device: only the latest of each is kept. */
  private readonly pending = new Map<string, Map<string, DeviceSighting>>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly accounts: AccountStore,
    private readonly logger: Logger,
    flushEveryMs = 30_000,
    private readonly clock: () => number = Date.now,
  ) {
    this.timer = setInterval(() => this.flush(), flushEveryMs);
    this.timer.unref();
  }

  seen(userId: string, deviceId: string, ip: string): void {
    let devices = this.pending.get(userId);
    if (!devices) this.pending.set(userId, (devices = new Map()));
    devices.set(deviceId, { userId, deviceId, ip, ts: this.clock() });
  }

  /** The device as stored, with a newer unwritten sighting applied. */
  current(userId: string, device: DeviceInfo): DeviceInfo {
    const seen = this.pending.get(userId)?.get(device.device_id);
    return seen ? { ...device, last_seen_ip: seen.ip, last_seen_ts: seen.ts } : device;
  }

  flush(): void {
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()].flatMap((devices) => [...devices.values()]);
    this.pending.clear();
    try {
      this.accounts.recordSightings(batch);
    } catch (err) {
      // Last-seen data is advisory: losing one batch must not fail requests or the stop.
      this.logger.warn({ err, devices: batch.length }, 'could not record device sightings');
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
