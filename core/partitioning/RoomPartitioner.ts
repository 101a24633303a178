import { MAX_PARTITIONS } from '../../config/index.js';
import type { MatrixEphemeralEvent } from '../plugin-api/index.js';

/**
 * The one place that decides which of N ordered partitions a room's work goes to: `fnv1a32(room_id) mod
 * N`, for the room's events, its ephemeral events and its outbox messages alike. The hash is fixed (FNV-1a
 * over the UTF-8 bytes), so every ingest host and worker, in any process or Node version, agrees on where
 * a room goes; that agreement is what keeps a room's work in one queue and so in order.
 *
 * N is bounded by the config schema (MAX_PARTITIONS), so a count the schema accepts is one this takes.
 */
export class RoomPartitioner {
  constructor(
    readonly partitions: number,
    /** The setting N came from, named in the error when it is out of range. */
    setting = 'host.partitions',
  ) {
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
      throw new RangeError(`${setting} must be an integer from 1 to ${MAX_PARTITIONS} (got ${partitions})`);
    }
  }

  partitionOf(roomId: string): number {
    return RoomPartitioner.fnv1a32(roomId) % this.partitions;
  }

  /**
   * Room-scoped ephemeral events (typing, receipts) share their room's partition; presence has no room and
   * follows the user it is about, so one user's presence updates stay in order.
   */
  partitionOfEphemeral(event: MatrixEphemeralEvent & { sender?: unknown }): number {
    if (typeof event.room_id === 'string') return this.partitionOf(event.room_id);
    if (typeof event.sender === 'string') return this.partitionOf(event.sender);
    const userId = event.content['user_id'];
    return this.partitionOf(typeof userId === 'string' ? userId : '');
  }

  /** 32-bit FNV-1a of the string's UTF-8 bytes, as an unsigned integer. */
  static fnv1a32(text: string): number {
    let hash = 0x811c9dc5;
    // Room ids are ASCII in practice: hash the chars directly and only encode when one is not.
    let ascii = true;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) {
        ascii = false;
        break;
      }
      hash ^= c;
      hash = Math.imul(hash, 0x01000193);
    }
    if (ascii) return hash >>> 0;
    hash = 0x811c9dc5;
    const bytes = Buffer.from(text, 'utf8');
    for (let i = 0; i < bytes.length; i++) {
      hash ^= bytes[i]!;
      hash = Math.imul(hash, 0x01000193);
    }
    return hash >>> 0;
  }
}
