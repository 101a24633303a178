import type { Logger } from 'pino';
import type { ThirdPartyResolver } from '../contracts.js';
import type { MatrixIntent } from '../matrix/MatrixIntent.js';
import type { ThirdPartyLocation, ThirdPartyProtocol, ThirdPartyUser } from '../plugin-api/index.js';
import type { BridgeRuntime } from './BridgeRuntime.js';

/**
 * Answers the homeserver's `/thirdparty/*` questions: through a bridge's ThirdPartyHandler where it has
 * one, otherwise from what the host knows of it: users by `id` (the identity map, else the ghost of that
 * id), locations by `network` and `location` (its room links and the room's canonical alias).
 */
export class ThirdPartyLookups implements ThirdPartyResolver {
  constructor(
    private readonly bridges: readonly BridgeRuntime[],
    private readonly bot: () => MatrixIntent,
    private readonly logger: Logger,
  ) {}

  private byProtocol(protocol: string): BridgeRuntime | undefined {
    return this.bridges.find((b) => b.protocol === protocol || (b.loaded.descriptor.thirdPartyProtocols ?? []).includes(protocol));
  }

  protocol(protocol: string): ThirdPartyProtocol | null {
    const b = this.byProtocol(protocol);
    if (!b) return null;
    const handler = b.loaded.capabilities.thirdParty;
    if (!handler) return defaultProtocol(b);
    try {
      return handler.thirdPartyProtocol(protocol);
    } catch (err) {
      b.logger.error({ err }, 'thirdPartyProtocol failed');
      return null;
    }
  }

  async users(protocol: string, fields: Record<string, string>): Promise<ThirdPartyUser[] | null> {
    const b = this.byProtocol(protocol);
    if (!b) return null;
    const handler = b.loaded.capabilities.thirdParty;
    if (handler) return handler.lookupThirdPartyUser(fields, protocol);
    const id = fields.id;
    if (!id) return [];
    const userid = (await b.identities.userIdFor(protocol, id)) ?? safeGhostId(b, id);
    return userid ? [{ userid, protocol, fields: { id } }] : [];
  }

  async locations(protocol: string, fields: Record<string, string>): Promise<ThirdPartyLocation[] | null> {
    const b = this.byProtocol(protocol);
    if (!b) return null;
    const handler = b.loaded.capabilities.thirdParty;
    if (handler) return handler.lookupThirdPartyLocation(fields, protocol);
    const { network, location } = fields;
    if (!network || !location) return [];
    const roomId = await b.links.roomFor({ network, location });
    const alias = roomId ? await this.canonicalAlias(roomId) : null;
    return alias ? [{ alias, protocol, fields: { network, location } }] : [];
  }

  async usersByMatrixId(userId: string): Promise<ThirdPartyUser[]> {
    const out: ThirdPartyUser[] = [];
    for (const b of this.bridges) {
      try {
        const handler = b.loaded.capabilities.thirdParty;
        if (handler?.thirdPartyUsersOf) {
          out.push(...(await handler.thirdPartyUsersOf(userId)));
          continue;
        }
        const id = (await b.identities.thirdPartyIdFor(b.protocol, userId)) ?? b.ghosts.remoteIdOf(userId);
        if (id !== null) out.push({ userid: userId, protocol: b.protocol, fields: { id } });
      } catch (err) {
        b.logger.error({ err, user_id: userId }, 'reverse third-party user lookup failed');
      }
    }
    return out;
  }

  async locationsByAlias(alias: string): Promise<ThirdPartyLocation[]> {
    let roomId: string | null = null;
    try {
      roomId = await this.bot().resolveAlias(alias);
    } catch (err) {
      this.logger.warn({ err, alias }, 'could not resolve an alias for a third-party lookup');
    }
    const out: ThirdPartyLocation[] = [];
    for (const b of this.bridges) {
      try {
        const handler = b.loaded.capabilities.thirdParty;
        if (handler?.thirdPartyLocationsOf) {
          out.push(...(await handler.thirdPartyLocationsOf(alias, roomId)));
          continue;
        }
        if (!roomId) continue;
        for (const r of await b.links.remotesFor(roomId)) out.push({ alias, protocol: b.protocol, fields: { network: r.network, location: r.location } });
      } catch (err) {
        b.logger.error({ err, alias }, 'reverse third-party location lookup failed');
      }
    }
    return out;
  }

  private async canonicalAlias(roomId: string): Promise<string | null> {
    try {
      const state = await this.bot().getStateEvent(roomId, 'm.room.canonical_alias', '');
      return typeof state?.alias === 'string' ? state.alias : null;
    } catch {
      return null;
    }
  }
}

/** For a plugin without a ThirdPartyHandler: users by `id` (identity map, else ghost), locations by link. */
function defaultProtocol(b: BridgeRuntime): ThirdPartyProtocol {
  return {
    user_fields: ['id'],
    location_fields: ['network', 'location'],
    icon: '',
    field_types: {
      id: { regexp: '.+', placeholder: `${b.protocol} id` },
      network: { regexp: '.+', placeholder: 'network' },
      location: { regexp: '.+', placeholder: 'channel, number or address' },
    },
    instances: [],
  };
}

function safeGhostId(b: BridgeRuntime, id: string): string | null {
  try {
    return b.ghosts.userIdFor(id);
  } catch {
    return null;
  }
}
