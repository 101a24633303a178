import type { MatrixEvent, RoomUpgrade } from '../plugin-api/index.js';
import type { BridgeRuntime } from './BridgeRuntime.js';

const ROOM_ID = /^![^:\s]+:\S+$/;

/**
 * Bridges follow their rooms' upgrades. A tombstone (`m.room.tombstone` naming a replacement room) in a
 * room a bridge has links in moves those links to the replacement and has the bot join it, so messages
 * of the new room reach the bridge and the network's messages land there. Every step can run again
 * unchanged, as a retried event does.
 */
export class RoomUpgrades {
  /** The replacement room a tombstone names, or null for any other event. */
  static replacementOf(event: MatrixEvent): string | null {
    if (event.type !== 'm.room.tombstone' || event.state_key !== '') return null;
    const room = event.content['replacement_room'];
    return typeof room === 'string' && ROOM_ID.test(room) && room !== event.room_id ? room : null;
  }

  static async follow(b: BridgeRuntime, tombstone: MatrixEvent, newRoomId: string): Promise<RoomUpgrade> {
    const oldRoomId = tombstone.room_id;
    const links = await b.links.remotesFor(oldRoomId);
    if (links.length > 0) {
      // Join first: a link to a room the bot cannot enter would carry nothing.
      await b.bot.join(newRoomId);
      for (const { data, ...remote } of links) await b.links.link(newRoomId, remote, data);
      b.logger.info({ room_id: oldRoomId, replacement_room: newRoomId, links: links.length }, 'room upgraded: its links moved to the replacement room');
    }
    return { oldRoomId, newRoomId, links, tombstone };
  }
}
