// May this Matrix user bridge this room? As matrix-appservice-irc and mautrix ask it: the user is joined
// and their power level reaches the room's state_default (the level that changing the room's state needs,
// and linking a room to a remote place changes what the room is). The bot reads the room's state, so it
// joins first (invited, or a public room) and leaves again when the user may not.
import { MatrixApiError, ProvisioningError, type Intent } from '../plugin-api/index.js';

interface PowerLevels {
  users?: Record<string, unknown>;
  users_default?: unknown;
  state_default?: unknown;
}

const num = (value: unknown, fallback: number): number => (typeof value === 'number' && Number.isFinite(value) ? value : fallback);

export async function requireBridgePower(bot: Intent, roomId: string, userId: string): Promise<void> {
  if (!/^![^:]+:.+$/.test(roomId)) throw new ProvisioningError(400, 'M_INVALID_PARAM', `${JSON.stringify(roomId)} is not a room id like !abc:example.org`);
  let joinedNow = false;
  const state = async (type: string, key: string): Promise<Record<string, unknown> | null> => {
    try {
      return await bot.getStateEvent(roomId, type, key);
    } catch (err) {
      if (!MatrixApiError.is(err, 'M_FORBIDDEN') || joinedNow) throw err;
      try {
        await bot.join(roomId);
      } catch (joinErr) {
        if (MatrixApiError.is(joinErr)) {
          throw new ProvisioningError(403, 'M_FORBIDDEN', `The bridge bot ${bot.userId} cannot join ${roomId} (${joinErr.errcode}): invite it first`);
        }
        throw joinErr;
      }
      joinedNow = true;
      return bot.getStateEvent(roomId, type, key);
    }
  };
  const member = await state('m.room.member', userId);
  const levels = ((await state('m.room.power_levels', '')) ?? {}) as PowerLevels;
  const joined = member?.membership === 'join';
  const level = num(levels.users?.[userId], num(levels.users_default, 0));
  const needed = num(levels.state_default, 50);
  if (joined && level >= needed) return;
  if (joinedNow) await bot.leave(roomId).catch(() => undefined);
  if (!joined) throw new ProvisioningError(403, 'M_FORBIDDEN', `${userId} is not joined to ${roomId}`);
  throw new ProvisioningError(403, 'M_FORBIDDEN', `${userId} has power level ${level} in ${roomId}; bridging it needs ${needed} (the room's state_default)`);
}
