// The outbox against the real embedded homeserver's rate limits: a bridge whose registration says
// `rate_limited: true` floods one ghost's messages into several rooms at once; every message arrives once,
// in room order, and none is dead-lettered, however many 429s it took.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { register } from 'prom-client';
import { builtinBridges } from '../../../bridges/registry.js';
import { RoomPartitioner } from '../../../core/partitioning/RoomPartitioner.js';
import type { BridgeContext } from '../../../core/plugin-api/index.js';
import { PluginLoader } from '../../../core/plugin/PluginLoader.js';
import { enc, rateLimitsWith, registerUser, startBridgeStack, waitFor, type BridgeStack, type TestUser } from '../../harness/index.js';

const PER_ROOM = 8;

async function sendRejections(): Promise<number> {
  const metric = await register.getSingleMetric('patchbay_hs_rate_limited_total')?.get();
  return metric?.values.find((v) => v.labels.limit === 'sends_per_user')?.value ?? 0;
}

describe('outbox under the homeserver\'s rate limits', () => {
  let stack: BridgeStack;
  let alice: TestUser;
  let ctx: BridgeContext;

  beforeAll(async () => {
    stack = await startBridgeStack({
      appserviceId: 'outbox-limits',
      bridges: () => new PluginLoader({ builtins: builtinBridges }).load({ example: { enabled: true } }),
      registration: { rate_limited: true },
      homeserver: { rateLimits: rateLimitsWith({ sends_per_user: { per_second: 4, burst: 1 } }) },
      // The client hands any wait over 50 ms to the outbox, as it does with real limits for waits over a minute.
      host: { matrixRetry: { maxRateLimitWaitMs: 50 } },
    });
    ctx = stack.host.bridge('example')!.context;
    alice = await registerUser(stack.hs.url, 'alice');
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('delivers every message of a flooding ghost once, in order, and dead-letters none', async () => {
    // Rooms on different outbox partitions, so their workers compete for the ghost's one bucket.
    const rooms: string[] = [];
    const partitioner = new RoomPartitioner(4, 'host.outbox_partitions');
    const partitions = new Set<number>();
    while (rooms.length < 3) {
      const { room_id } = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } });
      const partition = partitioner.partitionOf(room_id);
      if (partitions.has(partition)) continue;
      partitions.add(partition);
      rooms.push(room_id);
    }
    const before = await sendRejections();
    for (let i = 0; i < PER_ROOM; i += 1) {
      for (const [r, roomId] of rooms.entries()) {
        await ctx.outbox.enqueue({ remoteId: `flood-${r}-${i}`, roomId, senderRemoteId: 'flood', type: 'm.room.message', content: { msgtype: 'm.text', body: `${r}:${i}` } });
      }
    }
    const bodiesIn = async (roomId: string): Promise<string[]> => {
      const res = await alice.http.ok<{ chunk: Array<{ type: string; sender: string; content: { body?: string } }> }>('GET', `/rooms/${enc(roomId)}/messages`, {
        query: { dir: 'f', limit: 100 },
      });
      return res.chunk.filter((e) => e.type === 'm.room.message').map((e) => String(e.content.body));
    };
    for (const [r, roomId] of rooms.entries()) {
      const expected = Array.from({ length: PER_ROOM }, (_, i) => `${r}:${i}`);
      await waitFor(async () => (await bodiesIn(roomId)).length >= PER_ROOM, 60_000, `the messages of room ${r}`);
      expect(await bodiesIn(roomId)).toEqual(expected);
    }
    expect(await stack.host.outbox.connection.lrange(stack.host.keys.outboxDeadLetters, 0, -1)).toEqual([]);
    // The homeserver did push back: the messages got through its limit, not around it.
    expect(await sendRejections()).toBeGreaterThan(before);
  });
});
