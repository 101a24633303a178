// Redis killed with SIGKILL and restarted from its append-only file while a homeserver keeps sending:
// the host answers 5xx while Redis is away, the sender retries, and no event is lost or reordered.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createEventPipeline, type EventPipeline } from '../../../core/host/index.js';
import { ManagedRedis } from '../../../core/redis/ManagedRedis.js';
import { waitFor } from '../../../testkit/waitFor.js';
import { HS_TOKEN, quietLogger, RecordingDispatcher, RetryingSender, roomEvent } from './pipelineTestKit.js';

const ROOMS = 10;
const TRANSACTIONS = 40;
const PER_TXN = 25;

describe('the pipeline across a Redis crash', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-redis-restart-'));
  const redis = new ManagedRedis({ dir, appendOnly: true });
  const dispatcher = new RecordingDispatcher();
  let pipeline: EventPipeline;

  beforeAll(async () => {
    await redis.start();
    pipeline = createEventPipeline({
      registration: { id: 'restart', hs_token: HS_TOKEN },
      redis: redis.connection,
      host: { partitions: 4, handler_attempts: 3 },
      role: 'both',
      dispatcher,
      logger: quietLogger(),
      metrics: new Registry(),
      http: { bind: '127.0.0.1', port: 0 },
      tuning: { lockDurationMs: 1_500, stalledIntervalMs: 1_000, retryDelayMs: () => 10 },
    });
    await pipeline.start();
  });

  afterAll(async () => {
    await pipeline?.stop({ force: true });
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged event and keeps room order', async () => {
    const expected = new Map<string, string[]>();
    const transactions = Array.from({ length: TRANSACTIONS }, (_, t) => ({
      txnId: `txn-${t}`,
      events: Array.from({ length: PER_TXN }, (_, i) => {
        const room = `!room${(t * PER_TXN + i) % ROOMS}:test`;
        const id = `$restart-${t}-${i}`;
        expected.set(room, [...(expected.get(room) ?? []), id]);
        return roomEvent(id, room);
      }),
    }));
    const sender = new RetryingSender(() => pipeline.url!);
    let acknowledged = 0;
    const sending = (async () => {
      for (const t of transactions) {
        await sender.send(t.txnId, { events: t.events });
        acknowledged++;
      }
    })();

    await waitFor(() => acknowledged >= TRANSACTIONS / 4, 30_000, 'a quarter of the transactions acknowledged');
    await redis.kill();
    // The homeserver is told to retry while Redis is gone.
    await waitFor(() => sender.saw(503) > 0, 30_000, 'a 503 while Redis is down');
    expect(acknowledged).toBeLessThan(TRANSACTIONS);
    await redis.start();
    let sent = false;
    void sending.then(() => (sent = true));
    await waitFor(() => sent, 45_000, `the sender finishing (acknowledged ${acknowledged}, statuses ${JSON.stringify([...sender.statuses])})`);

    const all = [...expected.values()].flat();
    const missing = (): string[] => all.filter((id) => dispatcher.count(id) === 0);
    await waitFor(() => missing().length === 0, 45_000, 'every event handled').catch((err: Error) => {
      throw new Error(`${err.message}; ${missing().length} missing, e.g. ${missing().slice(0, 5).join(' ')}`);
    });
    for (const [room, ids] of expected) {
      // At-least-once: a handler that ran just before the crash may run again, but the first time each
      // event was seen follows the room's order.
      const seen = [...new Set(dispatcher.idsIn(room))];
      expect(seen).toEqual(ids);
    }
    const health = await pipeline.health();
    expect(health.status).toBe('ok');
    expect(health.queues?.dead_letters).toBe(0);
  }, 120_000);
});
