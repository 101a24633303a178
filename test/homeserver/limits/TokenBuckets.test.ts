// The rate limiter's token buckets and address keys, with an injected clock.
import { describe, expect, it } from '@jest/globals';
import { Counter, Registry } from 'prom-client';
import { addressKey } from '../../../homeserver/limits/ClientAddress.js';
import { RateLimits } from '../../../homeserver/limits/RateLimits.js';
import { TokenBuckets } from '../../../homeserver/limits/TokenBuckets.js';
import { MatrixError } from '../../../homeserver/MatrixError.js';
import { shippedHomeserverLimits } from '../../../testkit/shippedDefaults.js';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('TokenBuckets', () => {
  it('allows a burst, then one action per refill interval, and says how long to wait', () => {
    const c = clock();
    const buckets = new TokenBuckets({ perSecond: 2, burst: 3 }, c.now);
    expect([buckets.take('a'), buckets.take('a'), buckets.take('a')]).toEqual([{ allowed: true }, { allowed: true }, { allowed: true }]);
    expect(buckets.take('a')).toEqual({ allowed: false, retryAfterMs: 500 });
    c.advance(200);
    expect(buckets.take('a')).toEqual({ allowed: false, retryAfterMs: 300 });
    c.advance(300);
    expect(buckets.take('a')).toEqual({ allowed: true });
    expect(buckets.take('a')).toEqual({ allowed: false, retryAfterMs: 500 });
    // Another key has its own bucket.
    expect(buckets.take('b')).toEqual({ allowed: true });
  });

  it('never holds more than the burst, however long a key was idle', () => {
    const c = clock();
    const buckets = new TokenBuckets({ perSecond: 1, burst: 2 }, c.now);
    buckets.take('a');
    c.advance(3_600_000);
    expect([buckets.take('a'), buckets.take('a'), buckets.take('a')].map((v) => v.allowed)).toEqual([true, true, false]);
  });

  it('check() answers without spending', () => {
    const c = clock();
    const buckets = new TokenBuckets({ perSecond: 0.1, burst: 1 }, c.now);
    expect(buckets.check('a')).toEqual({ allowed: true });
    expect(buckets.check('a')).toEqual({ allowed: true });
    buckets.take('a');
    expect(buckets.check('a')).toEqual({ allowed: false, retryAfterMs: 10_000 });
  });

  it('forgets buckets once they have refilled, so idle keys cost no memory', () => {
    const c = clock();
    const buckets = new TokenBuckets({ perSecond: 1, burst: 5 }, c.now);
    for (let i = 0; i < 1000; i += 1) buckets.take(`user${i}`);
    expect(buckets.size).toBe(1000);
    c.advance(5_000); // a full refill later every bucket is full again
    buckets.take('late');
    expect(buckets.size).toBe(1);
  });

  it('keeps at most maxKeys buckets, forgetting the least recently used', () => {
    const c = clock();
    const buckets = new TokenBuckets({ perSecond: 1, burst: 1 }, c.now, 3);
    for (const k of ['a', 'b', 'c']) buckets.take(k);
    c.advance(1);
    expect(buckets.take('a').allowed).toBe(false); // a is limited, and not touched by a refusal
    buckets.take('d'); // evicts a, the least recently used
    expect(buckets.size).toBe(3);
    expect(buckets.take('a').allowed).toBe(true);
  });
});

describe('RateLimits', () => {
  const registry = new Registry();
  const rejected = new Counter({ name: 'test_rate_limited_total', help: 'test', labelNames: ['limit'], registers: [registry] });

  it('throws 429 M_LIMIT_EXCEEDED with retry_after_ms, counting the refusal', async () => {
    const c = clock();
    const limits = new RateLimits(
      { ...shippedHomeserverLimits().rateLimits, sends_per_user: { per_second: 0.5, burst: 1 } },
      rejected,
      c.now,
    );
    limits.take('sends_per_user', '@a:hs');
    let error: unknown;
    try {
      limits.take('sends_per_user', '@a:hs');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(MatrixError);
    expect((error as MatrixError).status).toBe(429);
    expect((error as MatrixError).toJSON()).toMatchObject({ errcode: 'M_LIMIT_EXCEEDED', retry_after_ms: 2000 });
    expect((await rejected.get()).values).toEqual([expect.objectContaining({ labels: { limit: 'sends_per_user' }, value: 1 })]);
    c.advance(2_000);
    expect(() => limits.take('sends_per_user', '@a:hs')).not.toThrow();
  });

  it('does nothing when rate_limits.enabled is false', () => {
    const limits = new RateLimits({ ...shippedHomeserverLimits().rateLimits, enabled: false, login_per_ip: { per_second: 0.001, burst: 1 } }, rejected);
    for (let i = 0; i < 100; i += 1) limits.take('login_per_ip', '10.0.0.1');
  });
});

describe('addressKey', () => {
  it('counts IPv4 as is, IPv4-mapped IPv6 as IPv4, and IPv6 by its /64', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });
});
