// An event whose handler fails because Redis or the homeserver is down is not dead-lettered: the
// partition waits the outage out without spending handler attempts, then handles it once, in order.
// A failure of the event itself (a 403, a plain Error) is still dead-lettered after handler_attempts.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { createEventPipeline, PipelineKeys, type EventPipeline } from '../../../core/host/index.js';
import { EventLedger } from '../../../core/queue/EventLedger.js';
import { ClientServerApi, encodePath } from '../../../core/matrix/ClientServerApi.js';
import type { MatrixEvent } from '../../../core/plugin-api/index.js';
import { ManagedRedis } from '../../../core/redis/ManagedRedis.js';
import { waitFor } from '../../../testkit/waitFor.js';
import { HS_TOKEN, putTransaction, quietLogger, RecordingDispatcher, roomEvent } from './pipelineTestKit.js';

const ATTEMPTS = 3;

/** Records every call like RecordingDispatcher, and which calls succeeded; `work` does the handler's job. */
class WorkingDispatcher extends RecordingDispatcher {
  readonly succeeded: string[] = [];
  work: (event: MatrixEvent, attempt: number) => Promise<void> = async () => undefined;

  override async dispatch(event: MatrixEvent, attempt: number): Promise<void> {
    this.calls.push({ event, attempt });
    await this.work(event, attempt);
    this.succeeded.push(event.event_id);
  }
}

function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

describe('handler failures during outages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-outage-waits-'));
  const redis = new ManagedRedis({ dir, appendOnly: true });
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

  async function start(dispatcher: RecordingDispatcher, id = `outage${nextId++}`): Promise<EventPipeline> {
    const pipeline = createEventPipeline({
      registration: { id, hs_token: HS_TOKEN },
      redis: redis.connection,
      host: { partitions: 1, handler_attempts: ATTEMPTS },
      role: 'both',
      dispatcher,
      logger: quietLogger(),
      metrics: new Registry(),
      http: { bind: '127.0.0.1', port: 0 },
      // Short locks: an outage longer than a lock makes BullMQ re-run the job (handled events skipped).
      tuning: { retryDelayMs: () => 10, lockDurationMs: 1_500, stalledIntervalMs: 1_000 },
    });
    await pipeline.start();
    running.add(pipeline);
    return pipeline;
  }

  async function send(pipeline: EventPipeline, txnId: string, events: MatrixEvent[]): Promise<void> {
    expect(await putTransaction(pipeline.url!, txnId, { events })).toEqual({ status: 200, body: {} });
  }

  it('waits out a Redis outage longer than all attempts, then handles the event once and in order', async () => {
    const dispatcher = new WorkingDispatcher();
    // The plugin's own Redis client, as PluginHost opens it: commands fail after a few reconnect tries.
    const pluginRedis = new Redis({ ...redis.connection, maxRetriesPerRequest: 3, retryStrategy: () => 50 });
    pluginRedis.on('error', () => undefined);
    let release!: () => void;
    const killed = new Promise<void>((r) => (release = r));
    dispatcher.work = async (event) => {
      // The first try of $mid begins just before Redis dies.
      if (event.event_id === '$mid' && dispatcher.count('$mid') === 1) await killed;
      await pluginRedis.rpush('seen', event.event_id);
    };
    const pipeline = await start(dispatcher);
    try {
      await send(pipeline, 'r-1', [roomEvent('$first', '!r:test'), roomEvent('$mid', '!r:test'), roomEvent('$last', '!r:test')]);
      await waitFor(() => dispatcher.count('$mid') === 1, 20_000, 'the handler starting on $mid');
      await redis.kill();
      release();
      // More failed tries than handler_attempts, while Redis stays down: none of them was counted.
      await waitFor(() => dispatcher.count('$mid') > ATTEMPTS + 1, 30_000, `more than ${ATTEMPTS + 1} tries of $mid`);
      expect(dispatcher.succeeded).toEqual(['$first']);
      expect(dispatcher.deadLetteredCalls).toEqual([]);
      await redis.start();

      await waitFor(() => dispatcher.succeeded.includes('$last'), 30_000, '$last handled after Redis returned');
      expect(dispatcher.succeeded).toEqual(['$first', '$mid', '$last']);
      // The tries' numbers keep growing, so a plugin tells a retry from a first try.
      const numbers = dispatcher.calls.filter((c) => c.event.event_id === '$mid').map((c) => c.attempt);
      expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
      expect(new Set(numbers).size).toBe(numbers.length);
      expect(dispatcher.deadLetteredCalls).toEqual([]);
      expect(await pipeline.deadLetters.count()).toBe(0);
      expect(await pluginRedis.lrange('seen', 0, -1)).toEqual(['$first', '$mid', '$last']);
      const metrics = await (await fetch(`${pipeline.url}/metrics`)).text();
      expect(metricValue(metrics, 'patchbay_handler_outage_waits_total{dependency="redis"}')).toBeGreaterThan(ATTEMPTS);
      expect(metricValue(metrics, 'patchbay_handler_outage_partitions')).toBe(0);
      expect(metricValue(metrics, 'patchbay_pipeline_handler_failures_total')).toBe(0);
    } finally {
      pluginRedis.disconnect();
    }
  }, 90_000);

  it('does not count a run that ended with a lost lock (Redis away longer than the lock) as a crash', async () => {
    const client = new Redis(redis.connection);
    try {
      const ledger = new EventLedger(client, new PipelineKeys(`outage${nextId++}`), 60);
      // The worker that lost the lock forgives before or after the re-run counts its start.
      await ledger.forgiveCrashStart('$a');
      expect(await ledger.countCrashStart('$a')).toBe(0);
      expect(await ledger.countCrashStart('$b')).toBe(1);
      await ledger.forgiveCrashStart('$b');
      // A real crash after that still counts.
      expect(await ledger.countCrashStart('$a')).toBe(1);
      expect(await ledger.countCrashStart('$b')).toBe(1);
    } finally {
      client.disconnect();
    }
  });

  it('waits out an unavailable homeserver (502, lost connections) but dead-letters a 403 after its attempts', async () => {
    const hs = await homeserverStandIn();
    const dispatcher = new WorkingDispatcher();
    dispatcher.work = sendThrough(hs.api);
    const pipeline = await start(dispatcher);
    try {
      hs.mode = '502';
      await send(pipeline, 'hs-1', [roomEvent('$hs-1', '!r:test'), roomEvent('$hs-2', '!r:test')]);
      await waitFor(() => dispatcher.count('$hs-1') >= 2, 20_000, 'two tries of $hs-1 answered 502');
      hs.mode = 'reset';
      await waitFor(() => dispatcher.count('$hs-1') > ATTEMPTS + 1, 30_000, `more than ${ATTEMPTS + 1} tries of $hs-1`);
      expect(dispatcher.succeeded).toEqual([]);
      hs.mode = 'up';
      await waitFor(() => dispatcher.succeeded.includes('$hs-2'), 30_000, '$hs-2 sent once the homeserver is back');
      expect(dispatcher.succeeded).toEqual(['$hs-1', '$hs-2']);
      expect(dispatcher.count('$hs-2')).toBe(1);
      expect(dispatcher.deadLetteredCalls).toEqual([]);

      // Refused by the homeserver: the event's own failure, dead-lettered after handler_attempts.
      await send(pipeline, 'hs-2', [roomEvent('$denied', '!r:test'), roomEvent('$after-denied', '!r:test')]);
      await waitFor(() => dispatcher.succeeded.includes('$after-denied'), 20_000, '$after-denied');
      expect(dispatcher.calls.filter((c) => c.event.event_id === '$denied').map((c) => c.attempt)).toEqual([1, 2, 3]);
      expect(dispatcher.deadLetteredCalls.map((d) => d.event.event_id)).toEqual(['$denied']);
      const letter = await pipeline.deadLetters.get('$denied');
      expect(letter).toMatchObject({ attempts: ATTEMPTS });
      expect(letter?.error).toMatch(/403 M_FORBIDDEN/);
      const metrics = await (await fetch(`${pipeline.url}/metrics`)).text();
      expect(metricValue(metrics, 'patchbay_handler_outage_waits_total{dependency="homeserver"}')).toBeGreaterThan(ATTEMPTS);
      expect(metricValue(metrics, 'patchbay_pipeline_handler_failures_total')).toBe(ATTEMPTS);
    } finally {
      await hs.close();
    }
  }, 90_000);

  it('hands a job waiting out an outage back when stopped; the next worker resumes it in order', async () => {
    const hs = await homeserverStandIn();
    hs.mode = '502';
    const id = `outage${nextId++}`;
    const first = new WorkingDispatcher();
    first.work = sendThrough(hs.api);
    const stopping = await start(first, id);
    try {
      await send(stopping, 'stop-1', [roomEvent('$s-1', '!r:test'), roomEvent('$s-2', '!r:test')]);
      await send(stopping, 'stop-2', [roomEvent('$s-3', '!r:test')]);
      await waitFor(() => first.count('$s-1') >= 2, 20_000, 'two tries of $s-1 answered 502');
      // A graceful stop does not wait for the homeserver.
      await stopping.stop();
      running.delete(stopping);
      expect(first.succeeded).toEqual([]);

      hs.mode = 'up';
      const second = new WorkingDispatcher();
      second.work = sendThrough(hs.api);
      const resuming = await start(second, id);
      await waitFor(() => second.succeeded.includes('$s-3'), 30_000, '$s-3 handled by the next worker');
      expect(second.succeeded).toEqual(['$s-1', '$s-2', '$s-3']);
      expect(first.deadLetteredCalls).toEqual([]);
      expect(second.deadLetteredCalls).toEqual([]);
      expect(await resuming.deadLetters.count()).toBe(0);
    } finally {
      await hs.close();
    }
  }, 90_000);
});

interface HomeserverStandIn {
  api: ClientServerApi;
  mode: 'up' | '502' | 'reset';
  close(): Promise<void>;
}

/** A homeserver stand-in: 502 or a dropped connection while "down"; a 403 for the event $denied always. */
async function homeserverStandIn(): Promise<HomeserverStandIn> {
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '';
    if (url.endsWith('/' + encodeURIComponent('$denied'))) {
      res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ errcode: 'M_FORBIDDEN', error: 'not in room' }));
    } else if (standIn.mode === 'reset') {
      req.socket.destroy();
    } else if (standIn.mode === '502') {
      res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad Gateway</h1>');
    } else {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ event_id: '$sent' }));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const standIn: HomeserverStandIn = {
    mode: 'up',
    api: new ClientServerApi({
      homeserverUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      asToken: 'as-token',
      logger: quietLogger(),
      // The client's own bounded retries give up at once; the worker is what waits.
      retry: { maxRetries: 0 },
    }),
    close: () => new Promise((r) => server.close(() => r())),
  };
  return standIn;
}

/** A handler that sends each event to the homeserver (txnId = event id). */
function sendThrough(api: ClientServerApi): (event: MatrixEvent) => Promise<void> {
  return async (event) => {
    const path = `/_matrix/client/v3` + encodePath`/rooms/${event.room_id}/send/m.room.message/${event.event_id}`;
    await api.request('PUT', path, { body: event.content });
  };
}
