import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RoomPartitioner } from '../partitioning/RoomPartitioner.js';
import { byDeadLetterOrder, type DeadLetter, type DeadLetters } from './DeadLetters.js';
import { EventLedger } from './EventLedger.js';
import type { PartitionQueues } from './PartitionQueues.js';
import type { PartitionSlice } from './PartitionSlice.js';
import type { PipelineKeys } from './PipelineKeys.js';

const COMMIT = 'patchbayReplayCommit';
// Runs in the MULTI right after the slices' add scripts. KEYS: dead hash, dead time index, then per event
// its ledger key and its crash-count key. ARGV: ttl seconds, then the event ids.
const COMMIT_LUA = `
for i = 2, #ARGV do
  local id = ARGV[i]
  redis.call('SET', KEYS[1 + 2 * i - 2], '${EventLedger.code('queued')}', 'EX', ARGV[1])
  redis.call('DEL', KEYS[2 + 2 * i - 2])
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
end
return #ARGV - 1
`;

export interface ReplayOutcome {
  /** Event ids queued again, in the order they will run. */
  replayed: string[];
  /** Ids asked for that are not dead letters (dropped, replayed already, or never there). */
  missing: string[];
}

/**
 * Sends dead-lettered events through the pipeline again, after the cause is fixed. They run as new jobs
 * at the end of their rooms' partitions (after what the rooms got since), the events of a room in the
 * order they were dead-lettered, which is the order they had in the room. Each replayed event is queued,
 * marked queued again in the ledger (its crash count reset) and taken off the dead-letter set in one
 * MULTI: it is replayed whole or not at all, never twice.
 */
export class DeadLetterReplay {
  constructor(
    /** The partition queues' connection: the commit script runs in their MULTI. */
    redis: Redis,
    private readonly deadLetters: DeadLetters,
    private readonly queues: PartitionQueues,
    private readonly partitioner: RoomPartitioner,
    private readonly ledger: EventLedger,
    private readonly keys: PipelineKeys,
  ) {
    if (typeof (redis as unknown as Record<string, unknown>)[COMMIT] !== 'function') redis.defineCommand(COMMIT, { lua: COMMIT_LUA });
  }

  async replay(which: string[] | 'all'): Promise<ReplayOutcome> {
    const letters: DeadLetter[] = [];
    const missing: string[] = [];
    if (which === 'all') letters.push(...(await this.deadLetters.all()));
    else {
      for (const id of new Set(which)) {
        const letter = await this.deadLetters.get(id);
        if (letter === null) missing.push(id);
        else letters.push(letter);
      }
    }
    letters.sort(byDeadLetterOrder);
    const slices = new Map<number, PartitionSlice>();
    const txnId = `replay-${randomUUID()}`;
    for (const letter of letters) {
      const partition = this.partitioner.partitionOf(letter.event.room_id);
      let slice = slices.get(partition);
      if (slice === undefined) slices.set(partition, (slice = { txnId, enqueuedAt: Date.now(), events: [], ephemeral: [] }));
      slice.events.push(letter.event);
    }
    if (slices.size > 0) {
      const ids = letters.map((l) => l.event.event_id);
      const keys = [this.keys.deadLetters, this.keys.deadLettersByTime, ...ids.flatMap((id) => [this.keys.event(id), this.keys.crashStarts(id)])];
      await this.queues.enqueue(slices, (tx) => tx.runCommand(COMMIT, [keys.length, ...keys, this.ledger.ttlSeconds, ...ids]));
    }
    return { replayed: [...slices.values()].flatMap((s) => s.events.map((e) => e.event_id)), missing };
  }
}
