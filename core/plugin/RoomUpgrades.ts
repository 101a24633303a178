import type { MatrixEvent, RoomUpgrade } from '../plugin-api/index.js';
import type { BridgeRuntime } from './BridgeRuntime.js';

const ROOM_ID = /^![^:\s]+:\S+$/;

/**
 * Bridges follow their rooms' upgrades. A tombstone (`m.room.tombstone` naming a replacement room) in a
 * room a bridge has links in moves those links to the replacement and has the bridge's users that were
 * in the old room (bot, ghosts) join it, so messages of the new room reach the bridge and the network's
 * messages land there. Every step can run again unchanged, as a retried event does.
 */
export class RoomUpgrades {
  /** The replacement room a tombstone names, or null for any other event. */
  static replacementOf(event: MatrixEvent): string | null {
    if (event.type !== 'm.room.tombstone' || event.state_key !== '') return null;
    const room = event.content['replacement_room'];
    return typeof room === 'string' && ROOM_ID.test(room) && room !== event.room_id ? room : null;
  }

  /**
   * The bridge's users joined to the old room (the bot of a channel portal, the ghost of a DM) join the
   * new one before the links move: the homeserver sends an appservice the events of rooms where its users
   * are joined, so a replacement room without any would never reach the bridge. A ghost that cannot join
   * is logged and joins on its next message; the bot's failure fails the event (it is retried).
   */
  private static async moveMembers(b: BridgeRuntime, oldRoomId: string, newRoomId: string): Promise<void> {
    for (const userId of await b.interest.members(oldRoomId)) {
      const intent = b.intent(userId);
      if (!(await intent.isJoined(oldRoomId))) continue;
      try {
        await intent.join(newRoomId);
      } catch (err) {
        if (userId === b.bot.userId) throw err;
        b.logger.warn({ err, user_id: userId, room_id: newRoomId }, 'a ghost could not follow the room upgrade');
      }
    }
  }

  static async follow(b: BridgeRuntime, tombstone: MatrixEvent, newRoomId: string): Promise<RoomUpgrade> {
    const oldRoomId = tombstone.room_id;
    const links = await b.links.remotesFor(oldRoomId);
    if (links.length > 0) {
      await RoomUpgrades.moveMembers(b, oldRoomId, newRoomId);
      for (const { data, ...remote } of links) await b.links.link(newRoomId, remote, data);
      b.logger.info({ room_id: oldRoomId, replacement_room: newRoomId, links: links.length }, 'room upgraded: its links moved to the replacement room');
    }
    return { oldRoomId, newRoomId, links, tombstone };
  }
}
