// Token buckets per key (a user ID, a client address), in memory: the homeserver is one process.
// A bucket that has refilled is the same as no bucket, so refilled buckets are dropped as time passes;
// memory is bounded by the keys active within one refill time, and by maxKeys, past which the least
// recently used bucket is forgotten (its key starts again with a full bucket).

export interface BucketRate {
  /** Tokens added per second. */
  perSecond: number;
  /** Bucket size: how many actions may happen at once. */
  burst: number;
}

/** Milliseconds, as Date.now(); tests inject their own. */
export type Clock = () => number;

export type Verdict = { allowed: true } | { allowed: false; retryAfterMs: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly refillMs: number;
  private readonly sweepEveryMs: number;
  private nextSweep: number;

  constructor(
    private readonly rate: BucketRate,
    private readonly clock: Clock = Date.now,
    private readonly maxKeys = 100_000,
  ) {
    if (!(rate.perSecond > 0) || !(rate.burst >= 1)) throw new RangeError('a token bucket needs perSecond > 0 and burst >= 1');
    this.refillMs = (rate.burst / rate.perSecond) * 1000;
    this.sweepEveryMs = Math.min(Math.max(this.refillMs, 1_000), 60_000);
    this.nextSweep = clock() + this.sweepEveryMs;
  }

  /** Spends one of `key`'s tokens if it has one; otherwise says how long until it will. */
  take(key: string): Verdict {
    const now = this.clock();
    this.sweep(now);
    const tokens = this.tokensAt(this.buckets.get(key), now);
    if (tokens < 1) return { allowed: false, retryAfterMs: this.waitFor(tokens) };
    // Re-inserted at the end: Map order is the least-recently-used order for eviction.
    this.buckets.delete(key);
    this.buckets.set(key, { tokens: tokens - 1, at: now });
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    return { allowed: true };
  }

  /** Whether `key` has a token now, spending none. */
  check(key: string): Verdict {
    const tokens = this.tokensAt(this.buckets.get(key), this.clock());
    return tokens < 1 ? { allowed: false, retryAfterMs: this.waitFor(tokens) } : { allowed: true };
  }

  /** Keys with a bucket that has not refilled yet (or not been swept since). */
  get size(): number {
    return this.buckets.size;
  }

  private tokensAt(bucket: Bucket | undefined, now: number): number {
    if (!bucket) return this.rate.burst;
    return Math.min(this.rate.burst, bucket.tokens + (Math.max(0, now - bucket.at) * this.rate.perSecond) / 1000);
  }

  private waitFor(tokens: number): number {
    return Math.max(1, Math.ceil(((1 - tokens) / this.rate.perSecond) * 1000));
  }

  private sweep(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + this.sweepEveryMs;
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.at >= this.refillMs) this.buckets.delete(key);
    }
  }
}
