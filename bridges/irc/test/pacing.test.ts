import { describe, expect, test } from '@jest/globals';
import { ConnectPacer } from '../ConnectPacer.js';
import { DeliveryError, FloodControlQueue } from '../FloodControlQueue.js';
import { QuitDebouncer } from '../QuitDebouncer.js';
import { ManualClock } from './ManualClock.js';

function queue(clock: ManualClock, rate = 2, burst = 3) {
  const written: string[] = [];
  const q = new FloodControlQueue({ linesPerSecond: rate, burst, clock, write: (l) => written.push(l) });
  const pongAll = (): void => {
    for (const l of written.filter((w) => w.startsWith('PING :'))) q.onPong(l.slice(6));
  };
  return { q, written, pongAll, messages: () => written.filter((w) => !w.startsWith('PING')) };
}

describe('FloodControlQueue', () => {
  test('bursts, then paces at the configured rate, never dropping and keeping order', () => {
    const clock = new ManualClock();
    const { q, messages } = queue(clock, 2, 3);
    q.setConnected(true);
    for (let i = 0; i < 10; i++) void q.send([`PRIVMSG #c :${i}`]);
    expect(messages()).toHaveLength(3);
    clock.advance(500);
    expect(messages()).toHaveLength(4);
    clock.advance(3000);
    expect(messages()).toHaveLength(10);
    expect(messages()).toEqual(Array.from({ length: 10 }, (_, i) => `PRIVMSG #c :${i}`));
  });

  test('a message resolves only when a PONG proves the server read it', async () => {
    const clock = new ManualClock();
    const { q, pongAll, written } = queue(clock, 100, 10);
    q.setConnected(true);
    let done = false;
    const p = q.send(['PRIVMSG #c :a', 'PRIVMSG #c :b']).then(() => (done = true));
    await Promise.resolve();
    expect(done).toBe(false);
    expect(written[written.length - 1]).toMatch(/^PING :pbq\d+$/);
    pongAll();
    await p;
    expect(done).toBe(true);
    expect(q.inflightCount).toBe(0);
  });

  test('waits while disconnected; unproven lines are resent after a reconnect (after the rejoin), before newer ones', async () => {
    const clock = new ManualClock();
    const { q, messages, pongAll } = queue(clock, 100, 100);
    const p1 = q.send(['PRIVMSG #c :1']);
    expect(messages()).toHaveLength(0);
    q.setConnected(true);
    expect(messages()).toEqual(['PRIVMSG #c :1']);
    q.setConnected(false); // lost before the PONG
    const p2 = q.send(['PRIVMSG #c :2']);
    q.sendRaw('JOIN #c', { front: true });
    q.setConnected(true);
    // The rejoin goes first: the resent message needs the channel.
    expect(messages()).toEqual(['PRIVMSG #c :1', 'JOIN #c', 'PRIVMSG #c :1', 'PRIVMSG #c :2']);
    pongAll();
    await Promise.all([p1, p2]);
  });

  test('an error numeric fails the message it belongs to, not its neighbours', async () => {
    const clock = new ManualClock();
    const { q, pongAll } = queue(clock, 100, 100);
    q.setConnected(true);
    const ok = q.send(['PRIVMSG #a :fine']);
    const bad = q.send(['PRIVMSG #b :banned'], { target: '#b' });
    expect(q.failTarget('#B', 'Cannot send to channel', (x, y) => x.toLowerCase() === y.toLowerCase())).toBe(true);
    pongAll();
    await expect(ok).resolves.toBeUndefined();
    await expect(bad).rejects.toThrow('Cannot send to channel');
  });

  test('failAll rejects everything waiting, as an aborted delivery', async () => {
    const clock = new ManualClock();
    const { q } = queue(clock);
    const p = q.send(['PRIVMSG #c :x']);
    expect(q.failAll('gave up')).toBe(1);
    const error = await p.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    expect((error as DeliveryError).kind).toBe('aborted');
  });
});

describe('ConnectPacer', () => {
  test('limits concurrent registrations and spaces their starts', async () => {
    const clock = new ManualClock();
    const pacer = new ConnectPacer({ concurrency: 2, intervalMs: 100, clock });
    const started: number[] = [];
    const releases: Array<() => void> = [];
    for (let i = 0; i < 5; i++) void pacer.acquire().then((release) => { started.push(i); releases.push(release); });
    const settle = async (): Promise<void> => { for (let i = 0; i < 5; i++) await Promise.resolve(); };
    await settle();
    expect(started).toEqual([0]);
    clock.advance(100);
    await settle();
    expect(started).toEqual([0, 1]);
    clock.advance(500);
    await settle();
    expect(started).toEqual([0, 1]); // both slots busy
    releases[0]?.();
    releases[0]?.(); // idempotent
    await settle();
    expect(started).toEqual([0, 1, 2]);
    expect(pacer.active).toBe(2);
    expect(pacer.queued).toBe(2);
  });
});

describe('QuitDebouncer', () => {
  test('ordinary quits pass at once; split-like quits wait and vanish if the nick returns', () => {
    const clock = new ManualClock();
    const left: string[] = [];
    const d = new QuitDebouncer({ delayMs: 60_000, burstThreshold: 10, burstWindowMs: 1000, clock, onLeave: (n) => left.push(n) });
    d.quit('alice', 'alice', 'Client Quit');
    expect(left).toEqual(['alice']);
    d.quit('bob', 'bob', 'hub.example.net leaf.example.net');
    d.quit('carol', 'carol', '*.net *.split');
    expect(left).toEqual(['alice']);
    expect(d.returned('bob')).toBe(true);
    clock.advance(60_000);
    expect(left).toEqual(['alice', 'carol']);
    expect(d.returned('carol')).toBe(false);
  });

  test('a burst of quits counts as a split whatever the message', () => {
    const clock = new ManualClock();
    const left: string[] = [];
    const d = new QuitDebouncer({ delayMs: 5000, burstThreshold: 3, burstWindowMs: 1000, clock, onLeave: (n) => left.push(n) });
    for (const n of ['a', 'b', 'c', 'd']) d.quit(n, n, 'Ping timeout');
    expect(left).toEqual(['a', 'b']);
    d.flush();
    expect(left).toEqual(['a', 'b', 'c', 'd']);
  });
});
