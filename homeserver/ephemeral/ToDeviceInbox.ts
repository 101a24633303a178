// Send-to-device messages: queued per device on the shared stream, handed out by /sync at most
// MAX_PER_SYNC at a time, and deleted once a later /sync's since token shows the device received them.
// Messages to a deleted device go with it.
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import type { StreamCounter } from '../storage/StreamCounter.js';

export interface ToDeviceMessage {
  sender: string;
  type: string;
  content: Record<string, unknown>;
}

/** A queued message with its recipient and position (what appservices receive). */
export interface QueuedToDeviceMessage extends ToDeviceMessage {
  pos: number;
  userId: string;
  deviceId: string;
}

export interface ToDeviceBatch {
  messages: ToDeviceMessage[];
  /** Position of the last message handed out, when more are waiting beyond this batch; else null. */
  partialUpTo: number | null;
}

/** As Synapse: a device that was offline receives its backlog over several syncs. */
export const MAX_TO_DEVICE_PER_SYNC = 100;

export class ToDeviceInbox {
  private readonly s;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly db: SqlDatabase,
    private readonly counter: StreamCounter,
  ) {
    this.s = {
      insert: db.prepare('INSERT INTO to_device (pos, user_id, device_id, sender, type, content) VALUES (?, ?, ?, ?, ?, ?)'),
      pending: db.prepare(
        'SELECT pos, sender, type, content FROM to_device WHERE user_id = ? AND device_id = ? AND pos > ? AND pos <= ? ORDER BY pos LIMIT ?',
      ),
      acked: db.prepare('SELECT 1 FROM to_device WHERE user_id = ? AND device_id = ? AND pos <= ? LIMIT 1'),
      ack: db.prepare('DELETE FROM to_device WHERE user_id = ? AND device_id = ? AND pos <= ?'),
      deleteDevice: db.prepare('DELETE FROM to_device WHERE user_id = ? AND device_id = ?'),
      after: db.prepare('SELECT pos, user_id, device_id, sender, type, content FROM to_device WHERE pos > ? ORDER BY pos LIMIT ?'),
      deleteAt: db.prepare('DELETE FROM to_device WHERE pos = ?'),
    };
  }

  /** Queues one message per target device; `devices` already expanded from '*'. */
  send(sender: string, type: string, targets: Array<{ userId: string; deviceId: string; content: Record<string, unknown> }>): void {
    if (targets.length === 0) return;
    this.db.transaction(() => {
      for (const t of targets) {
        this.s.insert.run(this.counter.next(), t.userId, t.deviceId, sender, type, JSON.stringify(t.content));
      }
    })();
    for (const l of [...this.listeners]) l();
  }

  /** Called after messages were queued (appservices that take to-device messages are woken). */
  onSend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Drops what the device has acknowledged (up to `ackedPos`) and returns what follows, up to `upTo` and
   * at most `limit` messages.
   */
  take(userId: string, deviceId: string, ackedPos: number, upTo: number, limit = MAX_TO_DEVICE_PER_SYNC): ToDeviceBatch {
    // Most syncs acknowledge nothing: only a sync that does writes (a sync is not a write otherwise).
    if (ackedPos > 0 && this.s.acked.get(userId, deviceId, ackedPos) !== undefined) {
      this.remove(() => this.s.ack.run(userId, deviceId, ackedPos));
    }
    const rows = this.s.pending.all(userId, deviceId, ackedPos, upTo, limit + 1) as Array<{
      pos: number;
      sender: string;
      type: string;
      content: string;
    }>;
    const more = rows.length > limit;
    const batch = more ? rows.slice(0, limit) : rows;
    return {
      messages: batch.map((r) => ({ sender: r.sender, type: r.type, content: JSON.parse(r.content) as Record<string, unknown> })),
      partialUpTo: more ? batch[batch.length - 1]!.pos : null,
    };
  }

  /** Every queued message after `after`, in stream order (appservices filter them by recipient). */
  after(after: number, limit: number): QueuedToDeviceMessage[] {
    const rows = this.s.after.all(after, limit) as Array<{
      pos: number;
      user_id: string;
      device_id: string;
      sender: string;
      type: string;
      content: string;
    }>;
    return rows.map((r) => ({
      pos: r.pos,
      userId: r.user_id,
      deviceId: r.device_id,
      sender: r.sender,
      type: r.type,
      content: JSON.parse(r.content) as Record<string, unknown>,
    }));
  }

  /** Deletes messages an appservice took on its users' behalf (call inside the transaction that stored them). */
  deleteDelivered(positions: number[]): void {
    if (positions.length > 0) this.remove(() => positions.forEach((pos) => this.s.deleteAt.run(pos)));
  }

  deleteDevice(userId: string, deviceId: string): void {
    this.remove(() => this.s.deleteDevice.run(userId, deviceId));
  }

  /** Deletes rows; the stream position is written down first, as the rows may have held the newest ones. */
  private remove(deleteRows: () => void): void {
    this.db.transaction(() => {
      this.counter.persist();
      deleteRows();
    })();
  }
}
