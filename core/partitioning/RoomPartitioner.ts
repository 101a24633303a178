/**
 * Maps a room to one of N ordered partitions: `fnv1a32(room_id) mod N`. The hash is fixed (FNV-1a over
 * the UTF-8 bytes), so every ingest host and worker, in any process or Node version, agrees on where a
 * room's events go; that agreement is what keeps a room's events in one queue and so in order.
 */
export class RoomPartitioner {
  constructor(readonly partitions: number) {
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024) {
      throw new RangeError(`partitions must be an integer from 1 to 1024 (got ${partitions})`);
    }
  }

  partitionOf(roomId: string): number {
    return RoomPartitioner.fnv1a32(roomId) % this.partitions;
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
