// Issue 7, item 7: a transaction that can never be stored is answered 400 (logged, nothing stored), not
// 503 for ever; 503 stays for real storage outages. Real Redis behind an ingest-only host.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createEventPipeline, PipelineKeys, RoomPartitioner, type EventPipeline } from '../../../core/host/index.js';
import { StoreUnavailableError } from '../../../core/ingest/StoreUnavailableError.js';
import { TransactionIngest } from '../../../core/ingest/TransactionIngest.js';
import { TransactionUnstorableError } from '../../../core/ingest/TransactionUnstorableError.js';
import { PipelineMetrics } from '../../../core/metrics/PipelineMetrics.js';
import type { PartitionQueues } from '../../../core/queue/PartitionQueues.js';
import { ManagedRedis } from '../../../core/redis/ManagedRedis.js';
import { rawRequest } from '../../harness/rawRequest.js';
import { HS_TOKEN, putTransaction, quietLogger, roomEvent } from './pipelineTestKit.js';

function nested(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = { d: value };
  return value;
}

describe('hostile transactions at the appservice host', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-hostile-txn-'));
  const redis = new ManagedRedis({ dir, appendOnly: false });
  const keys = new PipelineKeys('hostile');
  const logLines: Array<Record<string, unknown>> = [];
  let pipeline: EventPipeline;
  let client: Redis;
  let base: string;

  beforeAll(async () => {
    await redis.start();
    client = new Redis(redis.connection);
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    pipeline = createEventPipeline({
      registration: { id: 'hostile', hs_token: HS_TOKEN },
      redis: redis.connection,
      host: { partitions: 4, handler_attempts: 3, max_body_bytes: 1024 * 1024 },
      role: 'ingest',
      logger: pino({ level: 'warn' }, sink),
      metrics: new Registry(),
      http: { bind: '127.0.0.1', port: 0 },
    });
    await pipeline.start();
    base = pipeline.url!;
  });

  afterAll(async () => {
    await pipeline?.stop();
    client?.disconnect();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function queuedJobs(): Promise<number> {
    const h = await pipeline.health();
    return (h.queues?.waiting ?? 0) + (h.queues?.active ?? 0);
  }

  async function putRaw(txnId: string, body: Uint8Array): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${base}/_matrix/app/v1/transactions/${txnId}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${HS_TOKEN}`, 'content-type': 'application/json' },
      body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('answers a transaction nested 4,500 levels deep with 400 M_BAD_JSON, logs it and stores nothing', async () => {
    const before = await queuedJobs();
    // Written as text: serialising 4,500 levels is exactly what overflows the stack.
    const event = JSON.stringify(roomEvent('$deep', '!r:test', { deep: 'DEEP' }));
    const body = `{"events":[${event.replace('"DEEP"', '{"d":'.repeat(4500) + '1' + '}'.repeat(4500))}]}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await putTransaction(base, 'deep-1', body);
      expect(res).toEqual({ status: 400, body: { errcode: 'M_BAD_JSON', error: expect.stringMatching(/nested deeper than 1000/) } });
    }
    expect(await client.exists(keys.event('$deep'), keys.transaction('deep-1'))).toBe(0);
    expect(await queuedJobs()).toBe(before);
    expect(logLines).toContainEqual(expect.objectContaining({ txn_id: 'deep-1', status: 400, errcode: 'M_BAD_JSON' }));
    // The homeserver's next transaction goes through as usual.
    expect(await putTransaction(base, 'after-deep', { events: [roomEvent('$after-deep', '!r:test')] })).toEqual({ status: 200, body: {} });
    expect(await client.exists(keys.event('$after-deep'))).toBe(1);
  });

  it('stores content nested as deep as a homeserver can serialise it (990 levels)', async () => {
    const res = await putTransaction(base, 'deep-ok', { events: [roomEvent('$deep-ok', '!r:test', { deep: nested(990) })] });
    expect(res).toEqual({ status: 200, body: {} });
    expect(await client.exists(keys.event('$deep-ok'))).toBe(1);
  });

  it('answers a body that is not UTF-8 with 400 M_NOT_JSON instead of storing U+FFFD', async () => {
    const text = new TextEncoder().encode(JSON.stringify({ events: [roomEvent('$latin1', '!r:test', { body: 'XX' })] }));
    const at = Buffer.from(text).indexOf('XX');
    text[at] = 0xe9; // "é" in Latin-1: not UTF-8
    const res = await putRaw('latin1', text);
    expect(res).toEqual({ status: 400, body: { errcode: 'M_NOT_JSON', error: expect.stringMatching(/UTF-8/) } });
    expect(await client.exists(keys.event('$latin1'))).toBe(0);
  });

  it('stores valid JSON a homeserver accepted into a room: big numbers and unpaired surrogate escapes', async () => {
    const raw = `{"events":[{"event_id":"$odd","room_id":"!r:test","type":"m.room.message","sender":"@a:test","origin_server_ts":1,
      "content":{"body":"\\ud800","big":9007199254740993,"huge":1e400,"f":0.5}}]}`;
    const res = await putRaw('odd', new TextEncoder().encode(raw));
    expect(res).toEqual({ status: 200, body: {} });
    expect(await client.exists(keys.event('$odd'))).toBe(1);
  });

  it('answers events that are not objects with 400 M_BAD_JSON', async () => {
    for (const events of [[null], [1], ['$x'], [[]]]) {
      const res = await putTransaction(base, 'not-objects', { events });
      expect(res.status).toBe(400);
      expect(res.body['errcode']).toBe('M_BAD_JSON');
    }
  });

  it('answers paths that are not valid percent-encoded UTF-8, and oversized request lines, with spec errors', async () => {
    for (const path of ['/_matrix/app/v1/users/%FF', '/_matrix/app/v1/rooms/%', '/_matrix/app/v1/transactions/%ED%A0%80', '/_matrix/app/v1/thirdparty/protocol/%zz']) {
      const answer = await rawRequest(base, path.includes('transactions') ? 'PUT' : 'GET', path, { headers: { authorization: `Bearer ${HS_TOKEN}` }, body: new TextEncoder().encode('{"events":[]}') });
      expect({ path, status: answer.status, body: JSON.parse(answer.text) as unknown }).toEqual({ path, status: 400, body: { errcode: 'M_INVALID_PARAM', error: expect.any(String) } });
    }
    const long = await rawRequest(base, 'GET', `/_matrix/app/v1/thirdparty/user/irc?nickname=${'x'.repeat(20_000)}`, { headers: { authorization: `Bearer ${HS_TOKEN}` } });
    expect({ status: long.status, body: JSON.parse(long.text) as unknown }).toEqual({ status: 431, body: { errcode: 'M_TOO_LARGE', error: expect.any(String) } });
  });

  describe('what storing may throw', () => {
    const fakeQueues = (failure: Error): PartitionQueues =>
      ({
        enqueue: async () => {
          throw failure;
        },
      }) as unknown as PartitionQueues;
    const ingestWith = (failure: Error): TransactionIngest =>
      new TransactionIngest({
        redis: client,
        queues: fakeQueues(failure),
        partitioner: new RoomPartitioner(4),
        keys,
        metrics: PipelineMetrics.for(new Registry()),
        logger: quietLogger(),
        ttlSeconds: 60,
      });
    const txn = { events: [roomEvent('$thrown', '!r:test')], ephemeral: [] };

    it('calls an engine error about the data (stack overflow, bad value) unstorable: 400', async () => {
      for (const failure of [new RangeError('Maximum call stack size exceeded'), new TypeError('Do not know how to serialize a BigInt')]) {
        await expect(ingestWith(failure).ingest('thrown', txn)).rejects.toBeInstanceOf(TransactionUnstorableError);
      }
    });

    it('calls Redis trouble an outage: 503 and the homeserver retries', async () => {
      const replyError = Object.assign(new Error('OOM command not allowed when used memory > maxmemory'), { name: 'ReplyError' });
      for (const failure of [new Error('Connection is closed.'), replyError, new Error('the enqueue MULTI was aborted')]) {
        await expect(ingestWith(failure).ingest('thrown', txn)).rejects.toBeInstanceOf(StoreUnavailableError);
      }
    });
  });
});
