import type { Logger } from 'pino';
import { bridgeInfoState, MatrixApiError, USUAL_EVENT_LEVELS, type GhostDirectory, type Intent, type PortalKey, type PortalSpec } from '../plugin-api/index.js';

/** What making and updating portal rooms needs: the bridge's bot and ghosts, its alias namespace. */
export interface PortalRoomsDeps {
  ghosts: GhostDirectory;
  /** The bridge's bot: it keeps power level 100 in every portal. */
  bot: Intent;
  serverName: string;
  aliasPrefix: string;
  /** The bridge's protocol id and what users call its network, for the room's m.bridge state. */
  protocol: string;
  networkName?: string;
  logger: Logger;
}

const USER_ID = /^@[^:\s]+:\S+$/;

/**
 * Portal rooms over the Client-Server API: made as a PortalSpec says, and their name, topic and avatar
 * kept as the bridge asks. Knows nothing of links or locks (BridgePortals, and the test kit's fake, add
 * those), so every portal is made the same way.
 */
export class PortalRooms {
  constructor(private readonly deps: PortalRoomsDeps) {}

  aliasFor(name: string): string {
    return `#${this.deps.aliasPrefix}${name}:${this.deps.serverName}`;
  }

  /** Makes the room; its maker (bot or ghost) and the bot hold power 100, the spec's ghosts join. */
  async make(key: PortalKey, spec: PortalSpec): Promise<string> {
    const { bot, ghosts, aliasPrefix } = this.deps;
    const creator = spec.creator ? await ghosts.intent(spec.creator.remoteId, spec.creator.profile) : bot;
    const members: Intent[] = [];
    for (const g of spec.ghosts ?? []) members.push(await ghosts.intent(g.remoteId, g.profile));
    const invite = [...new Set([...(key.receiver !== undefined ? [key.receiver] : []), ...(spec.invite ?? []), ...members.map((m) => m.userId), bot.userId])].filter(
      (u) => u !== creator.userId,
    );
    const { users, events, ...levels } = spec.powerLevels ?? {};
    const joinRule = spec.joinRule ?? (key.receiver !== undefined ? 'invite' : 'public');
    const options: Record<string, unknown> = {
      preset: joinRule === 'public' ? 'public_chat' : 'private_chat',
      visibility: 'private',
      invite,
      is_direct: spec.direct ?? (key.receiver !== undefined && spec.alias === undefined),
      power_level_content_override: {
        ...levels,
        // An override replaces the whole map (homeservers merge it shallowly): keep the usual levels beside the spec's.
        ...(events !== undefined ? { events: { ...USUAL_EVENT_LEVELS, ...events } } : {}),
        users: { ...users, [creator.userId]: 100, [bot.userId]: 100 },
      },
      ...(spec.name !== undefined ? { name: spec.name } : {}),
      ...(spec.topic !== undefined ? { topic: spec.topic } : {}),
      ...(spec.alias !== undefined ? { room_alias_name: `${aliasPrefix}${checkAlias(spec.alias)}` } : {}),
      initial_state: [
        ...this.bridgeState(key, creator.userId),
        ...(spec.avatarUrl !== undefined ? [{ type: 'm.room.avatar', state_key: '', content: { url: spec.avatarUrl } }] : []),
      ],
    };
    let roomId: string;
    try {
      roomId = await creator.createRoom(options);
    } catch (err) {
      if (spec.alias === undefined || !MatrixApiError.is(err, 'M_ROOM_IN_USE')) throw err;
      // The alias is taken: a maker that died before linking made this room. Adopt it.
      const adopted = await bot.resolveAlias(this.aliasFor(spec.alias));
      if (adopted === null) throw err;
      this.deps.logger.warn({ room_id: adopted, alias: this.aliasFor(spec.alias) }, 'adopting the unlinked room that holds the portal alias');
      await bot.join(adopted);
      return adopted;
    }
    for (const member of members) if (member.userId !== creator.userId) await member.join(roomId);
    if (creator !== bot) await bot.join(roomId);
    return roomId;
  }

  /** MSC2346's bridge info for the portal of `key`. */
  private bridgeState(key: PortalKey, creator: string): ReturnType<typeof bridgeInfoState> {
    const { protocol, networkName, bot } = this.deps;
    return bridgeInfoState({ bridgebot: bot.userId, creator, protocol: { id: protocol, displayname: networkName ?? protocol }, network: key.network, channel: key.location });
  }

  /** Sets name, topic and avatar where they differ from the room's, as the bot. */
  async update(roomId: string, changes: Pick<PortalSpec, 'name' | 'topic' | 'avatarUrl'>): Promise<void> {
    const { bot } = this.deps;
    const wanted: Array<[string, string, string | undefined]> = [
      ['m.room.name', 'name', changes.name],
      ['m.room.topic', 'topic', changes.topic],
      ['m.room.avatar', 'url', changes.avatarUrl],
    ];
    for (const [type, field, value] of wanted) {
      if (value === undefined) continue;
      const current = await bot.getStateEvent(roomId, type, '');
      if (current?.[field] !== value) await bot.sendState(roomId, type, '', { [field]: value });
    }
  }
}

/** Throws for a key that names no place: empty network or location, a receiver that is no user id. */
export function checkPortalKey(key: PortalKey): void {
  if (typeof key?.network !== 'string' || key.network.length === 0 || typeof key.location !== 'string' || key.location.length === 0) {
    throw new TypeError(`a portal key needs a non-empty network and location, got ${JSON.stringify(key)}`);
  }
  if (key.receiver !== undefined && !USER_ID.test(key.receiver)) {
    throw new TypeError(`a portal key's receiver must be a Matrix user id (@user:server), got ${JSON.stringify(key.receiver)}`);
  }
}

function checkAlias(name: string): string {
  if (name.length === 0 || /[:\s\0]/.test(name)) throw new TypeError(`a portal alias name may not be empty or contain ":" or spaces, got ${JSON.stringify(name)}`);
  return name;
}
