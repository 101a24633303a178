import type { Logger } from 'pino';
import type { MatrixIntent } from '../matrix/MatrixIntent.js';
import { MatrixApiError } from '../plugin-api/index.js';
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
    const { bot, logger } = this.deps;
    if (await bot.isJoined(roomId)) return bot.sendEventAt(roomId, type, content, txnId, ts);
    const ghosts = await this.joinedGhosts(roomId);
    // A join of the bot made by another process is not in its cache: ask once before a ghost speaks.
    if (ghosts.length > 0 && (await bot.isJoined(roomId, true))) return bot.sendEventAt(roomId, type, content, txnId, ts);
    for (const ghost of ghosts) {
      try {
        return await ghost.sendEventAt(roomId, type, content, txnId, ts);
      } catch (err) {
        // Only "not in the room any more" passes the word on; a refused message is refused for all.
        if (!MatrixApiError.is(err, 'M_FORBIDDEN')) throw err;
        logger.debug({ err, room_id: roomId, user_id: ghost.userId }, 'a member ghost could not speak in the room');
      }
    }
    return joinIfNeeded ? bot.sendEventAt(roomId, type, content, txnId, ts) : null;
  }

  /** The bridge's ghosts recorded in the room that the homeserver (or the cache) says are joined. */
  private async joinedGhosts(roomId: string): Promise<MatrixIntent[]> {
    const out: MatrixIntent[] = [];
    for (const member of await this.deps.interest.members(roomId)) {
      if (member === this.deps.botUserId) continue;
      const intent = this.deps.intent(member);
      try {
        if (await intent.isJoined(roomId)) out.push(intent);
      } catch (err) {
        this.deps.logger.debug({ err, room_id: roomId, user_id: member }, 'could not tell whether a member ghost is joined');
      }
    }
    return out;
  }
}
