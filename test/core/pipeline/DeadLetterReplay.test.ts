// Replaying dead letters with real Redis: each replayed event runs again (though the ledger had it dead),
// a room's events in the order they were dead-lettered whatever order they are asked for, after what the
// room got since; the set loses them in the same step, so a second replay finds nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createEventPipeline, type EventPipeline } from '../../../core/host/index.js';
import { ManagedRedis } from '../../../core/redis/ManagedRedis.js';
import { waitFor } from '../../../testkit/waitFor.js';
import { HS_TOKEN, putTransaction, quietLogger, RecordingDispatcher, roomEvent } from './pipelineTestKit.js';

describe('dead-letter replay', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-replay-'));
  const redis = new ManagedRedis({ dir, appendOnly: false });
  const running = new Set<EventPipeline>();
  let nextId = 0;

  beforeAll(async () => {
    await redis.start();
  });

  afterAll(async () => {
    for (const p of running) await p.stop({ force: true });
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(dispatcher: RecordingDispatcher): Promise<EventPipeline> {
    const pipeline = createEventPipeline({
      registration: { id: `replay${nextId++}`, hs_token: HS_TOKEN },
      redis: redis.connection,
      host: { partitions: 4, handler_attempts: 1 },
      role: 'both',
      logger: quietLogger(),
      metrics: new Registry(),
      http: { bind: '127.0.0.1', port: 0 },
      dispatcher,
      tuning: { retryDelayMs: () => 5 },
    });
    await pipeline.start();
    running.add(pipeline);
    return pipeline;
  }

  async function send(pipeline: EventPipeline, txnId: string, events: ReturnType<typeof roomEvent>[]): Promise<void> {
    expect(await putTransaction(pipeline.url!, txnId, { events })).toEqual({ status: 200, body: {} });
  }

  it('runs each room again in its order, after what the room got since, and takes them off the set', async () => {
    const dispatcher = new RecordingDispatcher();
    let broken = true;
    dispatcher.fail = (event) => broken && event.event_id.startsWith('$bad');
    const pipeline = await start(dispatcher);
    await send(pipeline, 't1', [roomEvent('$bad-a1', '!a:test'), roomEvent('$bad-a2', '!a:test'), roomEvent('$bad-b1', '!b:test'), roomEvent('$bad-a3', '!a:test')]);
    await waitFor(async () => (await pipeline.deadLetters.count()) === 4, 20_000, 'four dead letters');
    broken = false;
    await send(pipeline, 't2', [roomEvent('$since-a', '!a:test')]);
    await waitFor(() => dispatcher.count('$since-a') > 0, 20_000, '$since-a');

    const outcome = await pipeline.replayDeadLetters(['$bad-a3', '$bad-b1', '$bad-a1', '$nope', '$bad-a2']);
    expect(outcome.missing).toEqual(['$nope']);
    expect(outcome.replayed.filter((id) => id.includes('-a'))).toEqual(['$bad-a1', '$bad-a2', '$bad-a3']);
    await waitFor(() => dispatcher.count('$bad-a3') === 2 && dispatcher.count('$bad-b1') === 2, 20_000, 'the replayed events');
    expect(dispatcher.idsIn('!a:test')).toEqual(['$bad-a1', '$bad-a2', '$bad-a3', '$since-a', '$bad-a1', '$bad-a2', '$bad-a3']);
    expect(dispatcher.idsIn('!b:test')).toEqual(['$bad-b1', '$bad-b1']);
    expect(await pipeline.deadLetters.count()).toBe(0);
    expect(await pipeline.replayDeadLetters('all')).toEqual({ replayed: [], missing: [] });
    await pipeline.stop();
    running.delete(pipeline);
  });

  it('keeps the order of letters dead-lettered in the same millisecond', async () => {
    const dispatcher = new RecordingDispatcher();
    const pipeline = await start(dispatcher);
    const time = Date.now();
    // Dead-lettered as z, x, y: neither the ids' order nor the order asked for is the room's.
    for (const id of ['$z', '$x', '$y']) {
      await pipeline.deadLetters.add({ event: roomEvent(id, '!same:test'), error: 'down', attempts: 1, time, partition: 0 });
    }
    expect((await pipeline.deadLetters.list()).map((l) => l.event.event_id)).toEqual(['$y', '$x', '$z']);
    const outcome = await pipeline.replayDeadLetters(['$y', '$x', '$z']);
    expect(outcome.replayed).toEqual(['$z', '$x', '$y']);
    await waitFor(() => dispatcher.count('$y') > 0, 20_000, '$y');
    expect(dispatcher.idsIn('!same:test')).toEqual(['$z', '$x', '$y']);
    await pipeline.stop();
    running.delete(pipeline);
  });
});
