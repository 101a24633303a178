// Every line one IRC connection sends goes through here. A token bucket paces the lines (so the server
// never disconnects us for flooding) and the queue only ever delays: lines wait while the connection is
// down and are sent, in order, when it is back. A line counts as delivered only when the server has
// answered a PING sent after it (TCP keeps order, so the PONG proves the server read every earlier
// line); lines written but not yet proven when the connection drops are sent again after the reconnect,
// so a crash of the server loses nothing (at worst a line arrives twice).
import { type Clock, systemClock } from './Clock.js';

export class DeliveryError extends Error {
  constructor(
    message: string,
    /** Why: `rejected` (the server answered with an error numeric), `aborted` (queue failed/stopped). */
    readonly kind: 'rejected' | 'aborted',
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

interface Delivery {
  remaining: number;
  failure: string | null;
  resolve: () => void;
  reject: (error: DeliveryError) => void;
}

interface QueuedLine {
  line: string;
  /** Channel or nick the line is addressed to, to attribute error numerics (ERR_CANNOTSENDTOCHAN). */
  target: string | null;
  /** Send again after a reconnect if unproven; false for session commands (JOIN, WHOIS) the reconnect redoes. */
  resend: boolean;
  delivery: Delivery | null;
  errored: boolean;
  enqueuedAt: number;
}

export interface SendOptions {
  target?: string | null;
  resend?: boolean;
  /** Jump the queue (rejoins after a reconnect go before the messages waiting for them). */
  front?: boolean;
}

export interface FloodControlOptions {
  /** Sustained rate. */
  linesPerSecond: number;
  /** Lines that may go out back to back after a quiet period. */
  burst: number;
  /** Writes one raw line to the socket. */
  write: (line: string) => void;
  /** Prove delivery at least every this many lines even while the queue is busy. */
  ackEvery?: number;
  clock?: Clock;
}

const ACK_PREFIX = 'pbq';

export class FloodControlQueue {
  private pending: QueuedLine[] = [];
  /** Written, waiting for the PONG that proves them; each PING marks how many lines it covers. */
  private inflight: QueuedLine[] = [];
  private pings: Array<{ token: string; covers: number }> = [];
  private unprovenSincePing = 0;
  private connected = false;
  private tokens: number;
  private lastRefill: number;
  private timer: unknown = null;
  private seq = 0;
  private readonly clock: Clock;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: FloodControlOptions) {
    this.clock = options.clock ?? systemClock;
    this.tokens = options.burst;
    this.lastRefill = this.clock.now();
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  get inflightCount(): number {
    return this.inflight.length;
  }

  /** Milliseconds the oldest unsent line has waited (0 when none). */
  oldestWait(): number {
    const first = this.pending[0];
    return first === undefined ? 0 : this.clock.now() - first.enqueuedAt;
  }

  /** Queues the lines of one message; resolves once the server has read all of them. */
  send(lines: string[], options: SendOptions = {}): Promise<void> {
    if (lines.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const delivery: Delivery = { remaining: lines.length, failure: null, resolve, reject };
      const now = this.clock.now();
      const items = lines.map((line) => ({
        line,
        target: options.target ?? null,
        resend: options.resend ?? true,
        delivery,
        errored: false,
        enqueuedAt: now,
      }));
      if (options.front === true) this.pending.unshift(...items);
      else this.pending.push(...items);
      this.pump();
    });
  }

  /** Queues a line nobody waits for (JOIN, PART, MODE...). */
  sendRaw(line: string, options: SendOptions = {}): void {
    const item: QueuedLine = { line, target: options.target ?? null, resend: options.resend ?? false, delivery: null, errored: false, enqueuedAt: this.clock.now() };
    if (options.front === true) this.pending.unshift(item);
    else this.pending.push(item);
    this.pump();
  }

  /** The connection is registered (true) or lost (false). Losing it puts unproven lines back in front. */
  setConnected(connected: boolean): void {
    if (this.connected === connected) return;
    this.connected = connected;
    if (!connected) {
      const again = this.inflight.filter((i) => i.resend);
      for (const dropped of this.inflight.filter((i) => !i.resend)) this.settle(dropped);
      this.pending = [...again.map((i) => ({ ...i, errored: false })), ...this.pending];
      this.inflight = [];
      this.pings = [];
      this.unprovenSincePing = 0;
      this.stopTimer();
    } else {
      this.tokens = this.options.burst;
      this.lastRefill = this.clock.now();
      this.pump();
    }
  }

  /** Feed every PONG here; returns true if it was one of the queue's proofs. */
  onPong(token: string): boolean {
    if (!token.startsWith(ACK_PREFIX)) return false;
    const index = this.pings.findIndex((p) => p.token === token);
    if (index === -1) return true;
    const covered = this.pings.slice(0, index + 1).reduce((n, p) => n + p.covers, 0);
    this.pings = this.pings.slice(index + 1);
    const proven = this.inflight.splice(0, covered);
    for (const item of proven) this.settle(item);
    this.checkIdle();
    return true;
  }

  /** An error numeric about `target` (e.g. 404 cannot send to channel): the earliest unproven line for it failed. */
  failTarget(target: string, reason: string, same: (a: string, b: string) => boolean = (a, b) => a === b): boolean {
    const item = this.inflight.find((i) => !i.errored && i.target !== null && same(i.target, target));
    if (item === undefined) return false;
    item.errored = true;
    if (item.delivery !== null && item.delivery.failure === null) item.delivery.failure = reason;
    return true;
  }

  /** Fails every waiting and unproven line (the connection is given up). */
  failAll(reason: string): number {
    const all = [...this.inflight, ...this.pending];
    this.inflight = [];
    this.pending = [];
    this.pings = [];
    this.unprovenSincePing = 0;
    this.stopTimer();
    const deliveries = new Set<Delivery>();
    for (const item of all) if (item.delivery !== null) deliveries.add(item.delivery);
    for (const d of deliveries) {
      d.remaining = 0;
      d.reject(new DeliveryError(reason, 'aborted'));
    }
    this.checkIdle();
    return deliveries.size;
  }

  /** Resolves when nothing is waiting or unproven (before a clean QUIT). */
  idle(): Promise<void> {
    if (this.pending.length === 0 && this.inflight.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private settle(item: QueuedLine): void {
    const d = item.delivery;
    if (d === null || d.remaining <= 0) return;
    if (--d.remaining === 0) {
      if (d.failure !== null) d.reject(new DeliveryError(d.failure, 'rejected'));
      else d.resolve();
    }
  }

  private checkIdle(): void {
    if (this.pending.length > 0 || this.inflight.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.options.burst, this.tokens + ((now - this.lastRefill) * this.options.linesPerSecond) / 1000);
    this.lastRefill = now;
  }

  private stopTimer(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private pump(): void {
    if (!this.connected || this.timer !== null) return;
    this.refill();
    const ackEvery = this.options.ackEvery ?? 16;
    while (this.pending.length > 0 && this.tokens >= 1) {
      const item = this.pending.shift() as QueuedLine;
      this.tokens -= 1;
      this.inflight.push(item);
      this.unprovenSincePing++;
      this.options.write(item.line);
      if (!this.connected) return; // write() may report the socket gone
      if (this.unprovenSincePing >= ackEvery) this.prove();
    }
    if (this.pending.length === 0 && this.unprovenSincePing > 0) this.prove();
    if (this.pending.length > 0) {
      const wait = Math.ceil(((1 - this.tokens) * 1000) / this.options.linesPerSecond);
      this.timer = this.clock.setTimeout(() => {
        this.timer = null;
        this.pump();
      }, Math.max(1, wait));
    }
  }

  /** The PING that proves the lines before it; not charged to the bucket (it is tiny and answered by the server itself). */
  private prove(): void {
    const token = `${ACK_PREFIX}${++this.seq}`;
    this.pings.push({ token, covers: this.unprovenSincePing });
    this.unprovenSincePing = 0;
    this.options.write(`PING :${token}`);
  }
}
