// A bounded, seeded fuzz of every route of the host's AS API (read from its router), with Redis up:
// no answer may be a 5xx (503 is for storage outages only), every error is a spec error body, and a
// normal transaction is stored afterwards. A failure names the seed.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { createAppserviceRouter, createEventPipeline, PipelineKeys, type EventPipeline } from '../../../core/host/index.js';
import { PipelineMetrics } from '../../../core/metrics/PipelineMetrics.js';
import { ManagedRedis } from '../../../core/redis/ManagedRedis.js';
import { listRoutes } from '../../../homeserver/http/RouteListing.js';
import { HostileRequests } from '../../harness/HostileRequests.js';
import { rawRequest } from '../../harness/rawRequest.js';
import { SeededRandom } from '../../harness/SeededRandom.js';
import { HS_TOKEN, putTransaction, quietLogger, roomEvent } from './pipelineTestKit.js';

const SEED = Number(process.env['PATCHBAY_FUZZ_SEED'] ?? 20_240_7);
const CASES_PER_ROUTE = 40;
const BUDGET_MS = 10_000;

describe('fuzz of every AS API route of the host', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-fuzz-asapi-'));
  const redis = new ManagedRedis({ dir, appendOnly: false });
  const keys = new PipelineKeys('fuzz');
  let pipeline: EventPipeline;
  let client: Redis;
  let base: string;

  beforeAll(async () => {
    await redis.start();
    client = new Redis(redis.connection);
    pipeline = createEventPipeline({
      registration: { id: 'fuzz', hs_token: HS_TOKEN },
      redis: redis.connection,
      host: { partitions: 4, handler_attempts: 3, max_body_bytes: 256 * 1024 },
      role: 'ingest',
      logger: quietLogger(),
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

  it(`answers hostile requests on every route (seed ${SEED}) without a 5xx, always with a spec error body`, async () => {
    // The same router the host mounts, listed from an app of its own.
    const listing = express();
    listing.use(createAppserviceRouter({ hsToken: HS_TOKEN, sink: null, metrics: PipelineMetrics.for(new Registry()), logger: quietLogger(), maxBodyBytes: 1024 }));
    const routes = listRoutes(listing);
    expect(routes.map((r) => `${r.method} ${r.path}`)).toContain('PUT /_matrix/app/v1/transactions/:txnId');

    const rnd = new SeededRandom(SEED);
    const gen = new HostileRequests(rnd, { roomId: '!r:test', userId: '@irc_a:test', eventId: '$e', alias: '#irc_a:test', serverName: 'test' });
    const transaction = (): Uint8Array => {
      const events = Array.from({ length: rnd.int(4) }, (_, i) => {
        const ev: Record<string, unknown> = { ...roomEvent(`$fuzz-${rnd.int(1e9)}-${i}`, rnd.pick(['!r:test', '!s:test'])) };
        for (let n = rnd.int(3); n > 0; n--) ev[rnd.pick(['event_id', 'room_id', 'type', 'sender', 'content', 'state_key', 'origin_server_ts', 'unsigned'])] = gen.value(2);
        return ev;
      });
      const body: Record<string, unknown> = { events };
      if (rnd.chance(0.3)) body[rnd.pick(['ephemeral', 'de.sorunome.msc2409.ephemeral'])] = rnd.chance(0.5) ? [{ type: 'm.typing', room_id: '!r:test', content: {} }] : gen.value(2);
      return new TextEncoder().encode(JSON.stringify(body));
    };

    const problems: string[] = [];
    const started = Date.now();
    for (let round = 0; round < CASES_PER_ROUTE && Date.now() - started < BUDGET_MS; round++) {
      for (const route of routes) {
        const req = gen.request(route.method, route.path);
        if (route.path.includes('/transactions/') && rnd.chance(0.5)) req.body = transaction();
        const token = rnd.chance(0.9) ? HS_TOKEN : rnd.pick(['wrong', '']);
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (token !== '') headers['authorization'] = `Bearer ${token}`;
        const answer = await rawRequest(base, req.method, req.url, { body: req.body, headers });
        let problem: string | null = answer.status >= 500 ? `status ${answer.status}` : null;
        if (problem === null && answer.status >= 400) {
          try {
            const b = JSON.parse(answer.text) as { errcode?: unknown; error?: unknown };
            if (typeof b.errcode !== 'string' || !/^M_[A-Z_]+$/.test(b.errcode) || typeof b.error !== 'string') problem = 'not a spec error body';
          } catch {
            problem = `${answer.status} without a JSON body`;
          }
        }
        if (problem !== null && problems.length < 20) problems.push(`${problem}: ${req.method} ${req.url.slice(0, 160)} -> ${answer.text.slice(0, 160)}`);
      }
    }
    expect({ seed: SEED, problems }).toEqual({ seed: SEED, problems: [] });

    expect(await putTransaction(base, 'after-fuzz', { events: [roomEvent('$after-fuzz', '!r:test')] })).toEqual({ status: 200, body: {} });
    expect(await client.exists(keys.event('$after-fuzz'))).toBe(1);
    expect((await pipeline.health()).status).not.toBe('unavailable');
  });
});
