// Limits how many IRC connections of one network are registering at once and how fast new ones start,
// so a restart with hundreds of puppets does not hit the server's connection throttle (and a K-line).
import { type Clock, systemClock } from './Clock.js';

export interface ConnectPacerOptions {
  /** Registrations in progress at once. */
  concurrency: number;
  /** Minimum time between two connection starts. */
  intervalMs: number;
  clock?: Clock;
}

export class ConnectPacer {
  private running = 0;
  private lastStart = -Infinity;
  private readonly waiting: Array<() => void> = [];
  private timer: unknown = null;
  private readonly clock: Clock;

  constructor(private readonly options: ConnectPacerOptions) {
    this.clock = options.clock ?? systemClock;
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Waits for a slot; call the returned function once the connection registered or failed (idempotent). */
  acquire(): Promise<() => void> {
    return new Promise((resolve) => {
      this.waiting.push(() => {
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.running--;
          this.pump();
        });
      });
      this.pump();
    });
  }

  private pump(): void {
    if (this.timer !== null) return;
    while (this.waiting.length > 0 && this.running < Math.max(1, this.options.concurrency)) {
      const wait = this.lastStart + this.options.intervalMs - this.clock.now();
      if (wait > 0) {
        this.timer = this.clock.setTimeout(() => {
          this.timer = null;
          this.pump();
        }, wait);
        return;
      }
      this.lastStart = this.clock.now();
      this.running++;
      (this.waiting.shift() as () => void)();
    }
  }
}
