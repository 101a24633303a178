// Worker processes split the partitions between them through Redis, and take over a leaver's share.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { PartitionAssignment } from '../../../core/queue/PartitionAssignment.js';
import { PipelineKeys } from '../../../core/queue/PipelineKeys.js';
import { ManagedRedis } from '../../../core/redis/ManagedRedis.js';
import { waitFor } from '../../../testkit/waitFor.js';
import { quietLogger } from './pipelineTestKit.js';

describe('PartitionAssignment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-assignment-'));
  const redis = new ManagedRedis({ dir, appendOnly: false });
  let client: Redis;

  beforeAll(async () => {
    await redis.start();
    client = new Redis(redis.connection);
  });

  afterAll(async () => {
    client?.disconnect();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives member i of K the partitions p with p mod K == i', () => {
    expect(PartitionAssignment.share(8, 0, 1)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(PartitionAssignment.share(8, 1, 3)).toEqual([1, 4, 7]);
    expect(PartitionAssignment.share(2, 2, 3)).toEqual([]);
  });

  it('splits the partitions between live processes and hands a leaver’s share over', async () => {
    const keys = new PipelineKeys('assign');
    const shares = new Map<string, number[]>();
    let changes = 0;
    const make = (name: string): PartitionAssignment =>
      new PartitionAssignment({
        redis: client,
        keys,
        partitions: 6,
        heartbeatMs: 100,
        onChange: async (p) => {
          changes++;
          shares.set(name, p);
        },
        logger: quietLogger(),
      });
    const a = make('a');
    const b = make('b');
    await a.start();
    expect(shares.get('a')).toEqual([0, 1, 2, 3, 4, 5]);
    await b.start();
    await waitFor(() => (shares.get('a')?.length ?? 0) === 3, 10_000, 'a giving up half');
    const union = [...shares.get('a')!, ...shares.get('b')!].sort();
    expect(union).toEqual([0, 1, 2, 3, 4, 5]);
    // Stable while nobody joins or leaves: several more beats of both change nothing.
    const settled = changes;
    const beatsOf = async (m: PartitionAssignment): Promise<number> => Number(await client.zscore(keys.workerMembers, m.memberId));
    const [a0, b0] = [await beatsOf(a), await beatsOf(b)];
    await waitFor(async () => (await beatsOf(a)) > a0 + 300 && (await beatsOf(b)) > b0 + 300, 10_000, 'three more beats each');
    expect(changes).toBe(settled);

    await b.stop();
    await waitFor(() => shares.get('a')?.length === 6, 10_000, 'a taking b’s share back');

    // A process that died without leaving (no more heartbeats) is dropped after three missed beats.
    await client.zadd(keys.workerMembers, Date.now() - 60_000, 'dead-process');
    const lonely = make('c');
    await lonely.start();
    await waitFor(() => shares.get('a')!.length + shares.get('c')!.length === 6 && shares.get('c')!.length === 3, 10_000, 'a and c sharing');
    expect(await client.zscore(keys.workerMembers, 'dead-process')).toBeNull();
    await a.stop();
    await lonely.stop();
  });
});
