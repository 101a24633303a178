import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { MatrixEvent } from '../plugin-api/index.js';
import type { RuntimeKeys } from '../store/BridgeKeyspace.js';
import type { BridgeRuntime } from './BridgeRuntime.js';

/**
 * Bridges do not decrypt. When a room a bridge carries turns encrypted, or an encrypted event reaches a
 * bridge, the room is told once, by that bridge, that its messages no longer cross: silence would look
 * like a working bridge. "Once" holds across workers and restarts (a Redis mark, and a txnId fixed per
 * bridge and room, so even a retried notice is one event).
 */
export class EncryptedRoomNotices {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RuntimeKeys,
  ) {}

  /** `m.room.encrypted`: ciphertext no bridge can carry. */
  static isCiphertext(event: MatrixEvent): boolean {
    return event.type === 'm.room.encrypted';
  }

  /** The event concerns encryption: it turns it on, or it is encrypted. */
  static concernsEncryption(event: MatrixEvent): boolean {
    return (event.type === 'm.room.encryption' && event.state_key === '') || EncryptedRoomNotices.isCiphertext(event);
  }

  /** Tells the room, unless this bridge already did. */
  async tell(b: BridgeRuntime, roomId: string): Promise<void> {
    const mark = this.keys.bridge(b.name).key('e2ee-notice', roomId);
    if ((await this.redis.exists(mark)) === 1) return;
    const network = b.loaded.descriptor.networkName ?? b.protocol;
    const body =
      `This room is end-to-end encrypted, and the ${network} bridge cannot read encrypted messages: ` +
      `messages sent here will not reach ${network}.`;
    const txnId = `pb-e2ee-${createHash('sha256').update(`${b.name}\0${roomId}`).digest('base64url').slice(0, 22)}`;
    await b.voice.say(roomId, 'm.room.message', { msgtype: 'm.notice', body }, txnId);
    await this.redis.set(mark, '1');
    b.logger.warn({ room_id: roomId }, 'room is encrypted: the bridge cannot carry its messages; the room was told');
  }
}
