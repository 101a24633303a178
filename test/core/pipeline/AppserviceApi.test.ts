// The AS API as the homeserver sees it: tokens, errors, routes (v1, legacy, unstable), queries,
// third-party lookups, ping, /health and /metrics. Real Redis behind an ingest-only host.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import type { QueryResolver, ThirdPartyResolver } from '../../../core/contracts.js';
import { createEventPipeline, PipelineKeys, type EventPipeline } from '../../../core/host/index.js';
import type { ThirdPartyProtocol } from '../../../core/plugin-api/index.js';
import { ManagedRedis } from '../../../core/redis/ManagedRedis.js';
import { SpecValidator } from '../../harness/SpecValidator.js';
import { HS_TOKEN, putTransaction, quietLogger, roomEvent } from './pipelineTestKit.js';

const IRC: ThirdPartyProtocol = {
  user_fields: ['network', 'nickname'],
  location_fields: ['network', 'channel'],
  icon: 'mxc://example.org/irc',
  field_types: {
    network: { regexp: '([a-z0-9]+\\.)*[a-z0-9]+', placeholder: 'irc.libera.chat' },
    nickname: { regexp: '[^\\s#]+', placeholder: 'alice' },
    channel: { regexp: '#[^\\s]+', placeholder: '#matrix' },
  },
  instances: [{ desc: 'Libera', fields: { network: 'irc.libera.chat' }, network_id: 'libera' }],
};

const queries: QueryResolver = {
  async userExists(userId) {
    return userId.startsWith('@irc_');
  },
  async aliasExists(alias) {
    if (alias === '#explode:test') throw new Error('plugin crashed');
    return alias.startsWith('#irc_');
  },
};

const thirdParty: ThirdPartyResolver = {
  protocol: (p) => (p === 'irc' ? IRC : null),
  async users(p, fields) {
    if (p !== 'irc') return null;
    return [{ userid: `@irc_${fields['nickname'] ?? 'x'}:test`, protocol: 'irc', fields }];
  },
  async locations(p, fields) {
    if (p !== 'irc') return null;
    return [{ alias: `#irc_${(fields['channel'] ?? '').replace('#', '')}:test`, protocol: 'irc', fields }];
  },
  async usersByMatrixId(userId) {
    return [{ userid: userId, protocol: 'irc', fields: { network: 'irc.libera.chat', nickname: 'alice' } }];
  },
  async locationsByAlias(alias) {
    return [{ alias, protocol: 'irc', fields: { network: 'irc.libera.chat', channel: '#matrix' } }];
  },
};

describe('the AS API of the appservice host', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-asapi-'));
  const redis = new ManagedRedis({ dir, appendOnly: false });
  const spec = SpecValidator.load();
  const keys = new PipelineKeys('asapi');
  let pipeline: EventPipeline;
  let client: Redis;
  let base: string;

  beforeAll(async () => {
    await redis.start();
    client = new Redis(redis.connection);
    pipeline = createEventPipeline({
      registration: { id: 'asapi', hs_token: HS_TOKEN },
      redis: redis.connection,
      host: { partitions: 4, handler_attempts: 3, max_body_bytes: 4096 },
      role: 'ingest',
      queries,
      thirdParty,
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

  async function get(path: string, token: string | null = HS_TOKEN, method = 'GET'): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
    const res = await fetch(base + path, { method, headers });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
  }

  async function expectSpec(file: string, path: string, status: number, body: unknown): Promise<void> {
    if (!spec) return;
    expect(await spec.validateResponse(`application-service/${file}`, path, 'get', status, body)).toEqual([]);
  }

  async function queuedJobs(): Promise<number> {
    const h = await pipeline.health();
    return (h.queues?.waiting ?? 0) + (h.queues?.active ?? 0);
  }

  describe('hs_token', () => {
    it('answers 401 M_MISSING_TOKEN without a token, on every route', async () => {
      for (const path of ['/_matrix/app/v1/users/@irc_a:test', '/_matrix/app/v1/thirdparty/protocol/irc', '/users/@irc_a:test']) {
        const res = await get(path, null);
        expect(res).toEqual({ status: 401, body: { errcode: 'M_MISSING_TOKEN', error: expect.any(String) } });
      }
      const put = await putTransaction(base, 'no-token', { events: [] }, null);
      expect(put.status).toBe(401);
      expect(put.body['errcode']).toBe('M_MISSING_TOKEN');
      await expectSpec('query_user.yaml', '/users/{userId}', 401, (await get('/_matrix/app/v1/users/@x:test', null)).body);
    });

    it('answers 403 M_FORBIDDEN for a wrong token, in the header or the legacy query', async () => {
      const wrong = await get('/_matrix/app/v1/users/@irc_a:test', 'not-the-token');
      expect(wrong).toEqual({ status: 403, body: { errcode: 'M_FORBIDDEN', error: expect.any(String) } });
      await expectSpec('query_user.yaml', '/users/{userId}', 403, wrong.body);
      expect((await get('/_matrix/app/v1/users/@irc_a:test?access_token=nope', null)).status).toBe(403);
      expect((await get('/_matrix/app/v1/users/@irc_a:test?access_token=nope', HS_TOKEN)).status).toBe(403);
      const shorter = await get('/_matrix/app/v1/users/@irc_a:test', HS_TOKEN.slice(0, -1));
      expect(shorter.status).toBe(403);
      const put = await putTransaction(base, 'bad-token', { events: [roomEvent('$bad-token', '!r:test')] }, 'wrong');
      expect(put.status).toBe(403);
      expect(await client.exists(keys.event('$bad-token'))).toBe(0);
    });

    it('accepts the legacy ?access_token= alone', async () => {
      expect((await get(`/_matrix/app/v1/users/@irc_a:test?access_token=${HS_TOKEN}`, null)).status).toBe(200);
    });
  });

  describe('transactions', () => {
    it('stores a valid transaction and answers 200 {}', async () => {
      const res = await putTransaction(base, 'ok-1', { events: [roomEvent('$ok-1', '!r:test')] });
      expect(res).toEqual({ status: 200, body: {} });
      expect(await client.get(keys.event('$ok-1'))).not.toBeNull();
      expect(await client.exists(keys.transaction('ok-1'))).toBe(1);
    });

    it('accepts the encryption keys homeservers add (MSC2409 to-device, MSC3202 device lists and key counts)', async () => {
      const counts = { '@irc_a:test': { DEV: { signed_curve25519: 3 } } };
      const body = {
        events: [roomEvent('$e2ee-1', '!r:test')],
        ephemeral: [{ type: 'm.typing', room_id: '!r:test', content: { user_ids: [] } }],
        'de.sorunome.msc2409.to_device': [{ to_user_id: '@irc_a:test', to_device_id: 'DEV', sender: '@b:test', type: 'm.room.encrypted', content: {} }],
        'org.matrix.msc3202.device_lists': { changed: ['@b:test'], left: [] },
        'org.matrix.msc3202.device_one_time_keys_count': counts,
        'org.matrix.msc3202.device_one_time_key_counts': counts,
        'org.matrix.msc3202.device_unused_fallback_key_types': { '@irc_a:test': { DEV: ['signed_curve25519'] } },
      };
      expect(await putTransaction(base, 'e2ee-1', body)).toEqual({ status: 200, body: {} });
      expect(await client.exists(keys.event('$e2ee-1'))).toBe(1);
      // Only to-device messages and device lists: nothing to queue, and still 200.
      const quiet = { events: [], 'de.sorunome.msc2409.to_device': body['de.sorunome.msc2409.to_device'], 'org.matrix.msc3202.device_lists': body['org.matrix.msc3202.device_lists'] };
      expect(await putTransaction(base, 'e2ee-2', quiet)).toEqual({ status: 200, body: {} });
    });

    it('takes the legacy unprefixed path too', async () => {
      const res = await fetch(`${base}/transactions/legacy-1`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${HS_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ events: [roomEvent('$legacy-1', '!r:test')] }),
      });
      expect(res.status).toBe(200);
      expect(await client.exists(keys.event('$legacy-1'))).toBe(1);
    });

    it('answers 400 M_NOT_JSON for a body that is not JSON', async () => {
      const before = await queuedJobs();
      for (const body of ['{"events": [', 'events=1', '']) {
        const res = await putTransaction(base, 'not-json', body);
        expect(res).toEqual({ status: 400, body: { errcode: 'M_NOT_JSON', error: expect.any(String) } });
      }
      expect(await queuedJobs()).toBe(before);
    });

    it('answers 400 M_BAD_JSON naming the problem, and stores nothing of the transaction', async () => {
      const good = roomEvent('$shape-good', '!r:test');
      const cases: Array<[unknown, RegExp]> = [
        [[], /JSON object/],
        ['"text"', /JSON object/],
        [{}, /"events" array/],
        [{ events: {} }, /"events" array/],
        [{ events: [good, 'nope'] }, /events\[1\] is not an object/],
        [{ events: [good, { ...good, event_id: '$shape-2', room_id: 5 }] }, /events\[1\]\.room_id/],
        [{ events: [{ ...good, event_id: '' }] }, /events\[0\]\.event_id/],
        [{ events: [{ ...good, sender: undefined }] }, /events\[0\]\.sender/],
        [{ events: [{ ...good, type: null }] }, /events\[0\]\.type/],
        [{ events: [{ ...good, content: 'x' }] }, /events\[0\]\.content/],
        [{ events: [good], ephemeral: {} }, /"ephemeral" must be an array/],
        [{ events: [good], ephemeral: [{ content: {} }] }, /ephemeral\[0\]\.type/],
      ];
      const before = await queuedJobs();
      for (const [body, message] of cases) {
        const res = await putTransaction(base, 'bad-shape', typeof body === 'string' ? body : JSON.stringify(body));
        expect(res.status).toBe(400);
        expect(res.body['errcode']).toBe('M_BAD_JSON');
        expect(String(res.body['error'])).toMatch(message);
      }
      expect(await client.exists(keys.event('$shape-good'), keys.transaction('bad-shape'))).toBe(0);
      expect(await queuedJobs()).toBe(before);
    });

    it('answers 413 M_TOO_LARGE above host.max_body_bytes', async () => {
      const big = { events: [roomEvent('$big', '!r:test', { body: 'x'.repeat(5000) })] };
      const res = await putTransaction(base, 'big', big);
      expect(res).toEqual({ status: 413, body: { errcode: 'M_TOO_LARGE', error: expect.any(String) } });
      expect(await client.exists(keys.event('$big'))).toBe(0);
    });

    it('counts accepted and rejected transactions on /metrics', async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      expect(text).toMatch(/^patchbay_ingest_transactions_received_total [1-9]/m);
      expect(text).toMatch(/^patchbay_ingest_transactions_rejected_total\{reason="bad_json"\} [1-9]/m);
      expect(text).toMatch(/^patchbay_ingest_transactions_rejected_total\{reason="missing_token"\} [1-9]/m);
      expect(text).toMatch(/^patchbay_queue_depth\{partition="0"\} \d+/m);
      expect(text).toMatch(/^patchbay_queue_lag_seconds\{partition="3"\} [\d.]+/m);
    });
  });

  describe('routes', () => {
    it('answers 404 M_UNRECOGNIZED for unknown paths and 405 M_UNRECOGNIZED for a wrong method', async () => {
      for (const path of ['/_matrix/app/v1/nope', '/_matrix/app/v2/users/@a:test', '/nope']) {
        expect(await get(path)).toEqual({ status: 404, body: { errcode: 'M_UNRECOGNIZED', error: expect.any(String) } });
      }
      expect(await get('/_matrix/app/v1/transactions/1', HS_TOKEN, 'GET')).toEqual({
        status: 405,
        body: { errcode: 'M_UNRECOGNIZED', error: expect.any(String) },
      });
      expect((await get('/_matrix/app/v1/users/@a:test', HS_TOKEN, 'POST')).status).toBe(405);
      expect((await get('/_matrix/app/v1/ping', HS_TOKEN, 'GET')).status).toBe(405);
    });

    it('answers user queries from the QueryResolver (v1 and legacy)', async () => {
      const yes = await get('/_matrix/app/v1/users/%40irc_alice%3Atest');
      expect(yes).toEqual({ status: 200, body: {} });
      await expectSpec('query_user.yaml', '/users/{userId}', 200, yes.body);
      const no = await get('/_matrix/app/v1/users/%40someone%3Atest');
      expect(no.status).toBe(404);
      expect(no.body).toMatchObject({ errcode: 'M_NOT_FOUND' });
      await expectSpec('query_user.yaml', '/users/{userId}', 404, no.body);
      expect((await get('/users/%40irc_alice%3Atest')).status).toBe(200);
    });

    it('answers alias queries (the # arrives encoded) and reports a crashing resolver as 500', async () => {
      expect(await get('/_matrix/app/v1/rooms/%23irc_matrix%3Atest')).toEqual({ status: 200, body: {} });
      expect((await get('/_matrix/app/v1/rooms/%23other%3Atest')).status).toBe(404);
      expect((await get('/rooms/%23irc_matrix%3Atest')).status).toBe(200);
      const crash = await get('/_matrix/app/v1/rooms/%23explode%3Atest');
      expect(crash).toEqual({ status: 500, body: { errcode: 'M_UNKNOWN', error: expect.any(String) } });
    });

    it('serves third-party lookups under v1 and unstable', async () => {
      for (const prefix of ['/_matrix/app/v1', '/_matrix/app/unstable']) {
        const protocol = await get(`${prefix}/thirdparty/protocol/irc`);
        expect(protocol).toEqual({ status: 200, body: IRC });
        await expectSpec('protocols.yaml', '/thirdparty/protocol/{protocol}', 200, protocol.body);
        const missing = await get(`${prefix}/thirdparty/protocol/gopher`);
        expect(missing.status).toBe(404);
        await expectSpec('protocols.yaml', '/thirdparty/protocol/{protocol}', 404, missing.body);

        const users = await get(`${prefix}/thirdparty/user/irc?network=irc.libera.chat&nickname=alice&access_token=${HS_TOKEN}`);
        expect(users).toEqual({
          status: 200,
          body: [{ userid: '@irc_alice:test', protocol: 'irc', fields: { network: 'irc.libera.chat', nickname: 'alice' } }],
        });
        await expectSpec('protocols.yaml', '/thirdparty/user/{protocol}', 200, users.body);
        const locations = await get(`${prefix}/thirdparty/location/irc?network=irc.libera.chat&channel=%23matrix`);
        expect(locations.status).toBe(200);
        expect(locations.body).toEqual([
          { alias: '#irc_matrix:test', protocol: 'irc', fields: { network: 'irc.libera.chat', channel: '#matrix' } },
        ]);
        await expectSpec('protocols.yaml', '/thirdparty/location/{protocol}', 200, locations.body);
        expect((await get(`${prefix}/thirdparty/user/gopher?x=1`)).status).toBe(404);

        const byId = await get(`${prefix}/thirdparty/user?userid=%40alice%3Atest`);
        expect(byId.status).toBe(200);
        expect(byId.body).toEqual([{ userid: '@alice:test', protocol: 'irc', fields: { network: 'irc.libera.chat', nickname: 'alice' } }]);
        await expectSpec('protocols.yaml', '/thirdparty/user', 200, byId.body);
        const byAlias = await get(`${prefix}/thirdparty/location?alias=%23matrix%3Atest`);
        expect(byAlias.status).toBe(200);
        await expectSpec('protocols.yaml', '/thirdparty/location', 200, byAlias.body);
        expect((await get(`${prefix}/thirdparty/location`)).body).toMatchObject({ errcode: 'M_MISSING_PARAM' });
      }
    });

    it('answers POST /_matrix/app/v1/ping with 200 {}', async () => {
      const res = await fetch(`${base}/_matrix/app/v1/ping`, {
        method: 'POST',
        headers: { authorization: `Bearer ${HS_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ transaction_id: 'ping-1' }),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({});
      if (spec) {
        expect(await spec.validateResponse('application-service/ping.yaml', '/ping', 'post' as 'get', 200, {})).toEqual([]);
      }
      const unauth = await fetch(`${base}/_matrix/app/v1/ping`, { method: 'POST', body: '{}' });
      expect(unauth.status).toBe(401);
    });
  });

  describe('/health', () => {
    it('reports Redis, queues and workers without a token', async () => {
      const res = await fetch(`${base}/health`);
      expect(res.status).toBe(200);
      const report = (await res.json()) as Record<string, unknown>;
      expect(report).toMatchObject({
        // Redis answers, so 200; but events wait for workers, which makes the host degraded.
        status: 'degraded',
        problems: ['partitions without a worker (their events wait): 0, 1, 2, 3'],
        role: 'ingest',
        partitions: 4,
        redis: { reachable: true },
        queues: { dead_letters: 0 },
        // An ingest-only host with no worker processes: every partition is unserved.
        workers: { local_partitions: 0, unserved_partitions: [0, 1, 2, 3] },
      });
      expect((report['queues'] as { waiting: number }).waiting).toBeGreaterThan(0);
    });
  });
});

describe('a host with host.metrics off', () => {
  it('has no /metrics route', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-asapi-nometrics-'));
    const redis = new ManagedRedis({ dir, appendOnly: false });
    await redis.start();
    const pipeline = createEventPipeline({
      registration: { id: 'nometrics', hs_token: HS_TOKEN },
      redis: redis.connection,
      host: { partitions: 2, handler_attempts: 3, metrics: false },
      role: 'ingest',
      logger: quietLogger(),
      metrics: new Registry(),
      http: { bind: '127.0.0.1', port: 0 },
    });
    try {
      await pipeline.start();
      const res = await fetch(`${pipeline.url}/metrics`);
      expect(res.status).toBe(404);
      expect(((await res.json()) as { errcode: string }).errcode).toBe('M_UNRECOGNIZED');
      expect((await fetch(`${pipeline.url}/health`)).status).toBe(200);
    } finally {
      await pipeline.stop();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
