// What the plugins see of a transaction: each event once, in room order, retried in place, dead-lettered
// after handler_attempts with a notice hook call, ephemeral events too; replays and re-sent events are
// absorbed at ingest and, if they slip through, at the worker.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import {
  createEventPipeline,
  PartitionCountChangedError,
  PipelineKeys,
  type EventPipeline,
  type EventPipelineOptions,
} from '../../../core/host/index.js';
import { ManagedRedis } from '../../../core/redis/ManagedRedis.js';
import { waitFor } from '../../../testkit/waitFor.js';
import { HS_TOKEN, putTransaction, quietLogger, RecordingDispatcher, roomEvent } from './pipelineTestKit.js';

describe('event delivery through the pipeline', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-delivery-'));
  const redis = new ManagedRedis({ dir, appendOnly: false });
  const running = new Set<EventPipeline>();
  let client: Redis;
  let nextId = 0;

  beforeAll(async () => {
    await redis.start();
    client = new Redis(redis.connection);
  });

  afterAll(async () => {
    for (const p of running) await p.stop({ force: true });
    client?.disconnect();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * A pipeline in its own key namespace. One partition unless asked otherwise: then every job is in one
   * FIFO queue, and once a later "marker" event is handled everything queued before it has been too.
   */
  async function start(overrides: Partial<EventPipelineOptions> & { id?: string } = {}): Promise<EventPipeline> {
    const id = overrides.id ?? `as${nextId++}`;
    const pipeline = createEventPipeline({
      registration: { id, hs_token: HS_TOKEN },
      redis: redis.connection,
      host: { partitions: 1, handler_attempts: 3 },
      role: 'both',
      logger: quietLogger(),
      metrics: new Registry(),
      http: { bind: '127.0.0.1', port: 0 },
      tuning: { retryDelayMs: () => 5 },
      ...overrides,
    });
    await pipeline.start();
    running.add(pipeline);
    return pipeline;
  }

  async function stop(pipeline: EventPipeline): Promise<void> {
    await pipeline.stop();
    running.delete(pipeline);
  }

  async function send(pipeline: EventPipeline, txnId: string, body: unknown): Promise<void> {
    const res = await putTransaction(pipeline.url!, txnId, body);
    expect(res).toEqual({ status: 200, body: {} });
  }

  /** Sends a marker event and waits until it is handled: everything queued before it has been too. */
  async function drain(pipeline: EventPipeline, dispatcher: RecordingDispatcher, room = '!marker:test'): Promise<void> {
    const id = `$marker-${nextId++}`;
    await send(pipeline, `marker-${id}`, { events: [roomEvent(id, room)] });
    await waitFor(() => dispatcher.count(id) > 0, 20_000, `marker ${id}`);
  }

  it('hands each room its events in transaction order', async () => {
    const dispatcher = new RecordingDispatcher();
    const id = `as${nextId++}`;
    const pipeline = await start({ id, dispatcher, host: { partitions: 4 } });
    const rooms = ['!a:test', '!b:test', '!c:test'];
    const expected = new Map<string, string[]>(rooms.map((r) => [r, []]));
    for (let t = 0; t < 5; t++) {
      const events = Array.from({ length: 30 }, (_, i) => {
        const room = rooms[(i * 7 + t) % rooms.length]!;
        const id = `$order-${t}-${i}`;
        expected.get(room)!.push(id);
        return roomEvent(id, room);
      });
      await send(pipeline, `order-${t}`, { events });
    }
    await waitFor(() => dispatcher.calls.length >= 150, 20_000, '150 events');
    for (const room of rooms) expect(dispatcher.idsIn(room)).toEqual(expected.get(room));
    expect(dispatcher.calls.every((c) => c.attempt === 1)).toBe(true);
    // What keeps it so across processes: every partition queue has BullMQ global concurrency 1.
    const keys = new PipelineKeys(id);
    for (let p = 0; p < 4; p++) {
      const queue = new Queue(keys.queueName(p), { connection: redis.connection, prefix: keys.queuePrefix });
      expect(await queue.getGlobalConcurrency()).toBe(1);
      await queue.close();
    }
    await stop(pipeline);
  });

  it('ignores a replayed txnId (200, nothing handled twice)', async () => {
    const dispatcher = new RecordingDispatcher();
    const pipeline = await start({ dispatcher });
    const body = { events: [roomEvent('$replay-1', '!r:test'), roomEvent('$replay-2', '!r:test')] };
    await send(pipeline, 'replay', body);
    await send(pipeline, 'replay', body);
    await drain(pipeline, dispatcher, '!r:test');
    expect(dispatcher.idsIn('!r:test').filter((id) => id.startsWith('$replay'))).toEqual(['$replay-1', '$replay-2']);
    const metrics = await (await fetch(`${pipeline.url}/metrics`)).text();
    expect(metrics).toMatch(/^patchbay_ingest_transactions_duplicate_total 1$/m);
    await stop(pipeline);
  });

  it('does not repeat events a homeserver re-sends under a new txnId (restarted counter)', async () => {
    const dispatcher = new RecordingDispatcher();
    const pipeline = await start({ dispatcher });
    await send(pipeline, '1', { events: [roomEvent('$restart-1', '!r:test'), roomEvent('$restart-2', '!r:test')] });
    // The homeserver restarted its counter: txnId 1 again, now with one old and one new event; then a
    // new txnId with the old events again.
    await send(pipeline, '1', { events: [roomEvent('$restart-2', '!r:test'), roomEvent('$restart-3', '!r:test')] });
    await send(pipeline, '2', { events: [roomEvent('$restart-1', '!r:test'), roomEvent('$restart-3', '!r:test')] });
    await drain(pipeline, dispatcher, '!r:test');
    expect(dispatcher.idsIn('!r:test').filter((id) => id.startsWith('$restart'))).toEqual(['$restart-1', '$restart-2', '$restart-3']);
    const metrics = await (await fetch(`${pipeline.url}/metrics`)).text();
    expect(metrics).toMatch(/^patchbay_ingest_events_duplicate_total\{stage="ingest"\} 3$/m);
    await stop(pipeline);
  });

  it('skips at the worker what was queued twice (two requests raced past the ingest check)', async () => {
    const id = `as${nextId++}`;
    const keys = new PipelineKeys(id);
    // Ingest only: the jobs stay queued.
    const ingest = await start({ id, role: 'ingest' });
    const body = { events: [roomEvent('$twice-1', '!r:test'), roomEvent('$twice-2', '!r:test')] };
    await send(ingest, 'twice', body);
    // What two concurrent requests with the same events leave behind: both passed the check before
    // either was marked, so the jobs are queued twice. Deleting the marks reproduces it.
    await client.del(keys.transaction('twice'), keys.event('$twice-1'), keys.event('$twice-2'));
    await send(ingest, 'twice', body);
    expect((await ingest.health()).queues?.waiting).toBe(2);
    await stop(ingest);

    const dispatcher = new RecordingDispatcher();
    const worker = await start({ id, dispatcher });
    await drain(worker, dispatcher, '!r:test');
    expect(dispatcher.idsIn('!r:test').filter((e) => e.startsWith('$twice'))).toEqual(['$twice-1', '$twice-2']);
    const metrics = await (await fetch(`${worker.url}/metrics`)).text();
    expect(metrics).toMatch(/^patchbay_ingest_events_duplicate_total\{stage="worker"\} 2$/m);
    await stop(worker);
  });

  it('hands ephemeral events (stable and unstable key) to dispatchEphemeral', async () => {
    const dispatcher = new RecordingDispatcher();
    const pipeline = await start({ dispatcher, host: { partitions: 2 } });
    const typing = { type: 'm.typing', room_id: '!r:test', content: { user_ids: ['@alice:test'] } };
    const presence = { type: 'm.presence', sender: '@alice:test', content: { presence: 'online' } };
    const receipt = { type: 'm.receipt', room_id: '!r:test', content: { $x: { 'm.read': { '@alice:test': { ts: 1 } } } } };
    await send(pipeline, 'eph-1', { events: [], ephemeral: [typing, presence] });
    await send(pipeline, 'eph-2', { events: [], 'de.sorunome.msc2409.ephemeral': [receipt] });
    await waitFor(() => dispatcher.ephemeral.length >= 3, 20_000, 'three ephemeral events');
    expect(dispatcher.ephemeral).toEqual(expect.arrayContaining([typing, presence, receipt]));
    expect(dispatcher.ephemeral).toHaveLength(3);
    await stop(pipeline);
  });

  it('retries a failing event in place: later events of the room wait for it', async () => {
    const dispatcher = new RecordingDispatcher();
    dispatcher.fail = (event, attempt) => event.event_id === '$flaky-2' && attempt < 3;
    const pipeline = await start({ dispatcher });
    await send(pipeline, 'flaky-a', { events: [roomEvent('$flaky-1', '!r:test'), roomEvent('$flaky-2', '!r:test')] });
    await send(pipeline, 'flaky-b', { events: [roomEvent('$flaky-3', '!r:test')] });
    await waitFor(() => dispatcher.count('$flaky-3') > 0, 20_000, '$flaky-3');
    expect(dispatcher.calls.map((c) => `${c.event.event_id}#${c.attempt}`)).toEqual([
      '$flaky-1#1',
      '$flaky-2#1',
      '$flaky-2#2',
      '$flaky-2#3',
      '$flaky-3#1',
    ]);
    expect(dispatcher.deadLetteredCalls).toEqual([]);
    await stop(pipeline);
  });

  it('dead-letters an event after handler_attempts tries, tells the room, and moves on', async () => {
    const dispatcher = new RecordingDispatcher();
    dispatcher.fail = (event) => event.event_id === '$poison';
    const pipeline = await start({ dispatcher });
    await send(pipeline, 'dl-a', { events: [roomEvent('$before', '!r:test'), roomEvent('$poison', '!r:test'), roomEvent('$after', '!r:test')] });
    await send(pipeline, 'dl-b', { events: [roomEvent('$later', '!r:test')] });
    await waitFor(() => dispatcher.count('$later') > 0, 20_000, '$later');

    expect(dispatcher.idsIn('!r:test')).toEqual(['$before', '$poison', '$poison', '$poison', '$after', '$later']);
    expect(dispatcher.calls.filter((c) => c.event.event_id === '$poison').map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(dispatcher.deadLetteredCalls).toHaveLength(1);
    expect(dispatcher.deadLetteredCalls[0]!.event.event_id).toBe('$poison');
    expect(dispatcher.deadLetteredCalls[0]!.error.message).toMatch(/refused \$poison \(try 3\)/);

    const letters = await pipeline.deadLetters.list();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ event: { event_id: '$poison', room_id: '!r:test' }, attempts: 3, partition: 0 });
    expect(letters[0]!.error).toMatch(/refused \$poison/);
    expect(await pipeline.deadLetters.count()).toBe(1);
    const metrics = await (await fetch(`${pipeline.url}/metrics`)).text();
    expect(metrics).toMatch(/^patchbay_pipeline_dead_letters_total 1$/m);
    expect(metrics).toMatch(/^patchbay_pipeline_handler_failures_total 3$/m);
    expect((await (await fetch(`${pipeline.url}/health`)).json()) as unknown).toMatchObject({ queues: { dead_letters: 1 } });

    // A replay of the dead-lettered event is not run again.
    await send(pipeline, 'dl-c', { events: [roomEvent('$poison', '!r:test')] });
    await drain(pipeline, dispatcher, '!r:test');
    expect(dispatcher.count('$poison')).toBe(3);
    expect(await pipeline.deadLetters.remove('$poison')).toBe(true);
    expect(await pipeline.deadLetters.count()).toBe(0);
    await stop(pipeline);
  });

  it('refuses to start with another partition count while jobs are queued under the old one', async () => {
    const id = `as${nextId++}`;
    const first = await start({ id, role: 'ingest', host: { partitions: 4 } });
    await send(first, 'p-1', { events: [roomEvent('$p-1', '!r:test')] });
    await stop(first);
    const changed = createEventPipeline({
      registration: { id, hs_token: HS_TOKEN },
      redis: redis.connection,
      host: { partitions: 8, handler_attempts: 3 },
      role: 'ingest',
      logger: quietLogger(),
      metrics: new Registry(),
      http: null,
    });
    await expect(changed.start()).rejects.toThrow(PartitionCountChangedError);
    await changed.stop({ force: true });
    // Once the old queues are drained, the change is accepted.
    const dispatcher = new RecordingDispatcher();
    const drainer = await start({ id, host: { partitions: 4 }, dispatcher });
    await waitFor(() => dispatcher.count('$p-1') > 0, 20_000, '$p-1');
    await waitFor(async () => (await drainer.health()).queues?.active === 0, 20_000, 'queue drained');
    await stop(drainer);
    const resized = await start({ id, host: { partitions: 8 }, role: 'ingest' });
    expect((await resized.health()).partitions).toBe(8);
    await stop(resized);
  });
});
