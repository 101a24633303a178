// The IRC bridge's provisioning API (docs/bridges/irc.md, "Provisioning API"): its networks and how
// each stands, a user's own connection on each, and linking a Matrix room to a channel and back. The
// host's ctx.provisioning does the auth, the JSON errors and the check that the user may bridge the room.
import { ProvisioningError, type BridgeContext, type ProvisioningApi, type ProvisioningRequest } from 'patchbay-matrix/plugin';
import type { IrcPluginConfig } from './IrcConfig.js';
import type { IrcBridgeState, RoomRole } from './IrcBridgeState.js';
import type { IrcNetwork } from './IrcNetwork.js';
import { portalAllowed } from './PortalAlias.js';

/** Where the API is mounted (claimed in the bridge's descriptor). */
export const IRC_PROVISIONING_PREFIX = '/_matrix/provision/v1';

type ChannelRole = Extract<RoomRole, { kind: 'channel' }>;

export interface IrcProvisioningDeps {
  ctx: BridgeContext<IrcPluginConfig>;
  state: IrcBridgeState;
  networks: ReadonlyMap<string, IrcNetwork>;
  /** The bot joins the channel of a newly linked room (and says in the room when it cannot). */
  joinChannel(roomId: string, role: ChannelRole): void;
}

interface LinkBody {
  room_id: string;
  network: string;
  channel: string;
  key?: string;
}

const bad = (message: string): ProvisioningError => new ProvisioningError(400, 'M_BAD_JSON', message);

function linkBody(req: ProvisioningRequest, withKey: boolean): LinkBody {
  const body = req.json();
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('The body must be a JSON object { room_id, network, channel }');
  const b = body as Record<string, unknown>;
  for (const field of ['room_id', 'network', 'channel']) {
    if (typeof b[field] !== 'string' || b[field] === '') throw new ProvisioningError(400, 'M_MISSING_PARAM', `The body needs ${field} (a string)`);
  }
  if (withKey && b.key !== undefined && typeof b.key !== 'string') throw bad('key must be a string (the channel key)');
  return { room_id: b.room_id as string, network: b.network as string, channel: b.channel as string, ...(withKey && typeof b.key === 'string' ? { key: b.key } : {}) };
}

export function mountIrcProvisioning(deps: IrcProvisioningDeps): ProvisioningApi | null {
  const { ctx, state, networks } = deps;
  const settings = ctx.config.provisioning;
  if (settings?.enabled !== true) return null;
  const api = ctx.provisioning.mount({ prefix: IRC_PROVISIONING_PREFIX, sharedSecret: settings.shared_secret ?? null });

  const networkOf = (id: string): IrcNetwork => {
    const network = networks.get(id);
    if (network === undefined) throw new ProvisioningError(404, 'M_NOT_FOUND', `There is no IRC network ${JSON.stringify(id)} (see GET ${IRC_PROVISIONING_PREFIX}/networks)`);
    return network;
  };
  const channelOf = (network: IrcNetwork, channel: string): string => {
    if (!network.isChannelName(channel) || /[\s,\x07]/.test(channel)) throw new ProvisioningError(400, 'M_INVALID_PARAM', `${JSON.stringify(channel)} is not an IRC channel name like #chat`);
    return network.fold(channel);
  };

  api.route('GET', '/networks', async () => {
    const reported = new Map((await ctx.status.all()).map((s) => [s.connection, s]));
    return {
      json: {
        networks: [...networks.values()].map((n) => {
          const s = reported.get(n.id);
          return {
            id: n.id,
            name: n.settings.name,
            server: `${n.settings.host}:${n.settings.port}`,
            tls: n.settings.tls !== false,
            state: s?.state ?? 'unknown',
            ...(s?.reason !== undefined && { reason: s.reason }),
            ...(s !== undefined && { since: s.since, stale: s.stale }),
          };
        }),
      },
    };
  }, { user: false });

  api.route('GET', '/whoami', async (req) => {
    const userId = req.userId as string;
    return {
      json: {
        user_id: userId,
        networks: [...networks.values()].map((n) => {
          const puppet = n.puppets.get(userId);
          const s = puppet?.connection.state;
          return {
            id: n.id,
            name: n.settings.name,
            state: s === undefined || s === 'idle' || s === 'stopped' ? 'disconnected' : s === 'registered' ? 'connected' : s,
            nick: puppet === undefined ? null : puppet.connection.nick,
            channels: puppet === undefined ? [] : puppet.connection.channels,
          };
        }),
      },
    };
  });

  api.route('GET', '/links', async (req) => {
    const roomId = req.query.room_id;
    if (roomId === undefined) throw new ProvisioningError(400, 'M_MISSING_PARAM', 'Give the room as ?room_id=!abc:example.org');
    await api.requireBridgePower(roomId, req.userId as string);
    const role = state.roleOf(roomId);
    return { json: { room_id: roomId, links: role?.kind === 'channel' ? [{ network: role.network, channel: role.channel }] : [] } };
  });

  api.route('POST', '/link', async (req) => {
    const body = linkBody(req, true);
    const network = networkOf(body.network);
    const channel = channelOf(network, body.channel);
    const { allow, deny } = network.settings.portals;
    if (!portalAllowed(channel, allow, deny)) {
      throw new ProvisioningError(403, 'M_FORBIDDEN', `${channel} may not be bridged (bridges.irc.networks.${network.id}.portals allow/deny)`);
    }
    const current = state.roleOf(body.room_id);
    const sameLink = current?.kind === 'channel' && current.network === network.id && current.channel === channel;
    if (current !== undefined && !sameLink) throw new ProvisioningError(409, 'M_ROOM_IN_USE', `${body.room_id} is already bridged (${current.kind === 'channel' ? `${current.channel} on ${current.network}` : `as a ${current.kind} room`})`);
    const other = state.roomForChannel(network.id, channel);
    if (other !== undefined && other !== body.room_id) throw new ProvisioningError(409, 'M_ROOM_IN_USE', `${channel} on ${network.id} is already bridged to ${other}`);
    await api.requireBridgePower(body.room_id, req.userId as string);
    if (!sameLink) {
      const role: ChannelRole = { kind: 'channel', network: network.id, channel, ...(body.key !== undefined && { key: body.key }) };
      await ctx.bot.ensureJoined(body.room_id);
      await state.setRoom(body.room_id, role);
      deps.joinChannel(body.room_id, role);
      ctx.logger.info({ room_id: body.room_id, irc_network: network.id, channel, by: req.userId }, 'room linked through the provisioning API');
    }
    return { json: { room_id: body.room_id, network: network.id, channel } };
  });

  api.route('POST', '/unlink', async (req) => {
    const body = linkBody(req, false);
    const network = networkOf(body.network);
    const channel = channelOf(network, body.channel);
    const current = state.roleOf(body.room_id);
    if (current?.kind !== 'channel' || current.network !== network.id || current.channel !== channel) {
      throw new ProvisioningError(404, 'M_NOT_FOUND', `${body.room_id} is not bridged to ${channel} on ${network.id}`);
    }
    await api.requireBridgePower(body.room_id, req.userId as string);
    await state.forgetRoom(body.room_id);
    network.removeChannel(channel);
    ctx.logger.info({ room_id: body.room_id, irc_network: network.id, channel, by: req.userId }, 'room unlinked through the provisioning API');
    await ctx.notice(body.room_id, `This room is no longer bridged to ${channel} on ${network.settings.name}.`).catch(() => undefined);
    await ctx.bot.leave(body.room_id).catch(() => undefined);
    return { json: {} };
  });
  return api;
}
