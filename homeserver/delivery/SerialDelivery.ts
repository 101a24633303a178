// The loop behind a sender that keeps exactly one delivery in flight to one peer (an appservice, a
// federation destination): drain what is stored until nothing is left, wait out a capped backoff after a
// failure, skip the wait when the peer is seen alive, and stop with the attempt in flight cancelled. What
// a delivery is, and what counts as a failure, is the subclass's drain().
import { RetryBackoff } from './RetryBackoff.js';

type DeliveryState = 'idle' | 'scheduled' | 'running' | 'backoff' | 'stopped';

export abstract class SerialDelivery {
  private state: DeliveryState = 'idle';
  private timer: NodeJS.Timeout | null = null;
  private loop: Promise<void> = Promise.resolve();
  /** Aborted by stop(): pass it to the request in flight. */
  protected readonly abort = new AbortController();
  protected readonly backoff: RetryBackoff;

  constructor(retry: { initialMs: number; maxMs: number }, random?: () => number) {
    this.backoff = new RetryBackoff(retry, random);
  }

  /** Delivers until drain() finds nothing; returning while still running means done for now. */
  protected abstract drain(): Promise<void>;
  /** The backoff began (metrics, a log line). */
  protected abstract backingOff(delayMs: number): void;
  /** drain() threw, which it should never do: log it; a retry follows. */
  protected abstract failedUnexpectedly(err: unknown): void;

  /** New work may be stored. A sender in backoff keeps waiting for its timer. */
  notify(): void {
    if (this.state === 'idle') this.run();
  }

  /**
   * Like notify(), but the loop starts on the next turn of the event loop: several enqueues in one tick
   * share one look at the store, and nothing is read inside the caller's (uncommitted) SQL transaction.
   */
  notifySoon(): void {
    if (this.state !== 'idle') return;
    this.state = 'scheduled';
    setImmediate(() => {
      if (this.state === 'scheduled') this.run();
    });
  }

  /** Retry now, skipping the backoff wait (the peer was seen alive). */
  wakeNow(): void {
    if (this.state !== 'backoff') return this.notify();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.backoff.reset();
    this.run();
  }

  get isBackingOff(): boolean {
    return this.state === 'backoff';
  }

  /** Stops; the attempt in flight is cancelled, and what it carried stays stored for next time. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.abort.abort();
    await this.loop;
  }

  /** Inside drain(): false once stop() was called or the loop went into backoff. */
  protected get running(): boolean {
    return this.state === 'running';
  }

  /** Inside drain(): nothing more to deliver for now. */
  protected idle(): void {
    if (this.state === 'running') this.state = 'idle';
  }

  /** Inside drain(): the attempt failed; try again after the next backoff delay. */
  protected scheduleRetry(): void {
    if (this.state === 'stopped') return;
    const delayMs = this.backoff.nextDelayMs();
    this.state = 'backoff';
    this.backingOff(delayMs);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.state === 'backoff') this.run();
    }, delayMs);
    this.timer.unref();
  }

  private run(): void {
    this.state = 'running';
    this.loop = this.drain()
      .then(() => this.idle())
      .catch((err: unknown) => {
        if (this.state === 'stopped') return;
        this.failedUnexpectedly(err);
        if (this.state === 'running') this.scheduleRetry();
      });
  }
}
