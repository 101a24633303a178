// Send-to-device messages: queued per device on the shared stream, handed out by /sync, and deleted once
// a later /sync's since token shows the device received them.
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import type { StreamCounter } from '../storage/StreamCounter.js';

export interface ToDeviceMessage {
  sender: string;
  type: string;
  content: Record<string, unknown>;
}

export class ToDeviceInbox {
  private readonly s;

  constructor(
    private readonly db: SqlDatabase,
    private readonly counter: StreamCounter,
  ) {
    this.s = {
      insert: db.prepare('INSERT INTO to_device (pos, user_id, device_id, sender, type, content) VALUES (?, ?, ?, ?, ?, ?)'),
      pending: db.prepare('SELECT pos, sender, type, content FROM to_device WHERE user_id = ? AND device_id = ? AND pos > ? ORDER BY pos'),
      ack: db.prepare('DELETE FROM to_device WHERE user_id = ? AND device_id = ? AND pos <= ?'),
    };
  }

  /** Queues one message per target device; `devices` already expanded from '*'. */
  send(sender: string, type: string, targets: Array<{ userId: string; deviceId: string; content: Record<string, unknown> }>): void {
    this.db.transaction(() => {
      for (const t of targets) {
        this.s.insert.run(this.counter.next(), t.userId, t.deviceId, sender, type, JSON.stringify(t.content));
      }
    })();
  }

  /** Drops what the device has seen (up to `ackedPos`) and returns the rest up to `upTo`. */
  take(userId: string, deviceId: string, ackedPos: number, upTo: number): ToDeviceMessage[] {
    if (ackedPos > 0) this.s.ack.run(userId, deviceId, ackedPos);
    const rows = this.s.pending.all(userId, deviceId, ackedPos) as Array<{ pos: number; sender: string; type: string; content: string }>;
    return rows
      .filter((r) => r.pos <= upTo)
      .map((r) => ({ sender: r.sender, type: r.type, content: JSON.parse(r.content) as Record<string, unknown> }));
  }
}
