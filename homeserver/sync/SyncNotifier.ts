// Wakes long-polling /sync requests when something they would report happens: new events in one of their
// rooms (or an invite to them), typing, receipts, account data or presence.
export interface Change {
  rooms?: Iterable<string>;
  users?: Iterable<string>;
}

interface Waiter {
  userId: string;
  rooms: Set<string>;
  wake: () => void;
}

export class SyncNotifier {
  private readonly waiters = new Set<Waiter>();
  private closed = false;

  /** Resolves on a relevant change, after `timeoutMs`, or when `abort` fires (client went away). */
  wait(userId: string, rooms: Set<string>, timeoutMs: number, abort?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const waiter: Waiter = { userId, rooms, wake: () => finish() };
      const timer = setTimeout(() => finish(), timeoutMs);
      const onAbort = (): void => finish();
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        abort?.removeEventListener('abort', onAbort);
        resolve();
      };
      if (abort?.aborted || this.closed) return finish();
      abort?.addEventListener('abort', onAbort);
      this.waiters.add(waiter);
    });
  }

  notify(change: Change): void {
    const rooms = new Set(change.rooms ?? []);
    const users = new Set(change.users ?? []);
    for (const w of [...this.waiters]) {
      if (users.has(w.userId)) {
        w.wake();
        continue;
      }
      for (const r of rooms) {
        if (w.rooms.has(r)) {
          w.wake();
          break;
        }
      }
    }
  }

  /** Shutdown: wakes everyone, and later waits return at once. */
  close(): void {
    this.closed = true;
    for (const w of [...this.waiters]) w.wake();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get waiting(): number {
    return this.waiters.size;
  }
}
