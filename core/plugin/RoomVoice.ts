import type { Logger } from 'pino';
import type { MatrixIntent } from '../matrix/MatrixIntent.js';
import type { RoomInterest } from './RoomInterest.js';

/** What a RoomVoice needs of its bridge. */
export interface RoomVoiceDeps {
  bot: MatrixIntent;
  botUserId: string;
  interest: RoomInterest;
  /** An intent of the bridge for one of its users. */
  intent(userId: string): MatrixIntent;
  logger: Logger;
}

/**
 * Who speaks for a bridge in a room: its bot where the bot is joined, otherwise one of its ghosts that is
 * (a DM only a ghost was invited to, an admin room), otherwise, if allowed, the bot joining (a public
 * room). Membership is checked, never assumed, so a stale record cannot make a ghost join a room it left
 * just to say something there. Notices, dead-letter notices and the outbox's bot messages all speak here.
 */
export class RoomVoice {
  constructor(private readonly deps: RoomVoiceDeps) {}

  /**
   * Sends as the first of those who can; resolves with the event id. With `joinIfNeeded: false` it
   * resolves null instead of making the bot join a room none of them is in.
   */
  async say(roomId: string, type: string, content: Record<string, unknown>, txnId: string, ts?: number): Promise<string>;
  async say(roomId: string, type: string, content: Record<string, unknown>, txnId: string, ts: number | undefined, joinIfNeeded: false): Promise<string | null>;
  async say(roomId: string, type: string, content: Record<string, unknown>, txnId: string, ts?: number, joinIfNeeded = true): Promise<string | null> {
    const { bot, botUserId, interest, logger } = this.deps;
    if (await bot.isJoined(roomId)) return bot.sendEventAt(roomId, type, content, txnId, ts);
    for (const member of await interest.members(roomId)) {
      if (member === botUserId) continue;
      const intent = this.deps.intent(member);
      try {
        if (!(await intent.isJoined(roomId))) continue;
        return await intent.sendEventAt(roomId, type, content, txnId, ts);
      } catch (err) {
        logger.debug({ err, room_id: roomId, user_id: member }, 'a member ghost could not speak in the room');
      }
    }
    return joinIfNeeded ? bot.sendEventAt(roomId, type, content, txnId, ts) : null;
  }
}
