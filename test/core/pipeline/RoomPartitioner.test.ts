import { describe, expect, it } from '@jest/globals';
import { MAX_PARTITIONS } from '../../../config/index.js';
import { RoomPartitioner } from '../../../core/partitioning/RoomPartitioner.js';

describe('RoomPartitioner', () => {
  it('uses 32-bit FNV-1a (published test vectors)', () => {
    expect(RoomPartitioner.fnv1a32('')).toBe(0x811c9dc5);
    expect(RoomPartitioner.fnv1a32('a')).toBe(0xe40c292c);
    expect(RoomPartitioner.fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('hashes the UTF-8 bytes of non-ASCII room ids', () => {
    // A byte-wise reference: 'é' must be hashed as its two UTF-8 bytes (c3 a9).
    let reference = 0x811c9dc5;
    for (const byte of Buffer.from('!é:x', 'utf8')) reference = Math.imul(reference ^ byte, 0x01000193);
    expect(RoomPartitioner.fnv1a32('!é:x')).toBe(reference >>> 0);
    expect(RoomPartitioner.fnv1a32('!é:x')).not.toBe(RoomPartitioner.fnv1a32('!e:x'));
  });

  it('puts a room always on the same partition and spreads rooms over all of them', () => {
    const partitioner = new RoomPartitioner(16);
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 1_600; i++) {
      const room = `!room${i}:example.org`;
      const p = partitioner.partitionOf(room);
      expect(new RoomPartitioner(16).partitionOf(room)).toBe(p);
      counts[p]!++;
    }
    // Every partition gets a fair share (100 each on average).
    expect(Math.min(...counts)).toBeGreaterThan(50);
    expect(Math.max(...counts)).toBeLessThan(150);
  });

  it('refuses partition counts that make no sense', () => {
    expect(() => new RoomPartitioner(0)).toThrow(RangeError);
    expect(() => new RoomPartitioner(2.5)).toThrow(RangeError);
  });

  it('takes every count the config schema accepts, and names the setting beyond it', () => {
    expect(new RoomPartitioner(MAX_PARTITIONS).partitions).toBe(MAX_PARTITIONS);
    expect(() => new RoomPartitioner(MAX_PARTITIONS + 1, 'host.outbox_partitions')).toThrow(
      `host.outbox_partitions must be an integer from 1 to ${MAX_PARTITIONS} (got ${MAX_PARTITIONS + 1})`,
    );
  });

  it("puts a room's ephemeral events on its events' partition, and presence on its user's", () => {
    const partitioner = new RoomPartitioner(64);
    for (let i = 0; i < 50; i++) {
      const room = `!r${i}:hs`;
      expect(partitioner.partitionOfEphemeral({ type: 'm.typing', room_id: room, content: {} })).toBe(partitioner.partitionOf(room));
      const user = `@u${i}:hs`;
      expect(partitioner.partitionOfEphemeral({ type: 'm.presence', sender: user, content: {} })).toBe(partitioner.partitionOf(user));
      expect(partitioner.partitionOfEphemeral({ type: 'm.presence', content: { user_id: user } })).toBe(partitioner.partitionOf(user));
    }
  });
});
