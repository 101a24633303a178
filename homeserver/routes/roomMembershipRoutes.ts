// createRoom, join, knock, invite, leave, kick, ban, unban, forget, joined_rooms.
import type { Request, Response } from 'express';
import { MatrixError } from '../MatrixError.js';
import type { HomeserverContext } from '../HomeserverContext.js';
import { body, isJsonObject, param, requesterOf, roomIdParam } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';
import type { CreateRoomInput, RoomPreset } from '../rooms/RoomCreator.js';
import { isValidUserId } from '../ids/MatrixIds.js';
import { joinTarget } from './JoinTarget.js';

const PRESETS = new Set(['private_chat', 'public_chat', 'trusted_private_chat']);

function parseCreateRoom(req: Request): CreateRoomInput {
  const b = body(req);
  const input: CreateRoomInput = {};
  const visibility = b.optString('visibility');
  if (visibility !== undefined) {
    if (visibility !== 'public' && visibility !== 'private') throw new MatrixError(400, 'M_INVALID_PARAM', 'visibility must be public or private');
    input.visibility = visibility;
  }
  const preset = b.optString('preset');
  if (preset !== undefined) {
    if (!PRESETS.has(preset)) throw new MatrixError(400, 'M_INVALID_PARAM', `Unknown preset ${JSON.stringify(preset)}`);
    input.preset = preset as RoomPreset;
  }
  input.room_alias_name = b.optString('room_alias_name');
  input.name = b.optString('name');
  input.topic = b.optString('topic');
  input.invite = b.optStringList('invite');
  input.room_version = b.optString('room_version');
  input.creation_content = b.optObject('creation_content');
  input.power_level_content_override = b.optObject('power_level_content_override');
  input.is_direct = b.optBool('is_direct');
  const initial = b.raw['initial_state'];
  if (initial !== undefined) {
    if (!Array.isArray(initial)) throw new MatrixError(400, 'M_BAD_JSON', 'initial_state must be a list');
    input.initial_state = initial.map((s: unknown) => {
      if (!isJsonObject(s) || typeof s['type'] !== 'string' || !isJsonObject(s['content'])) {
        throw new MatrixError(400, 'M_BAD_JSON', 'initial_state entries need "type" and "content"');
      }
      if (s['state_key'] !== undefined && typeof s['state_key'] !== 'string') {
        throw new MatrixError(400, 'M_BAD_JSON', 'initial_state state_key must be a string');
      }
      return { type: s['type'], state_key: s['state_key'] as string | undefined, content: s['content'] };
    });
  }
  const invite3pid = b.raw['invite_3pid'];
  if (Array.isArray(invite3pid) && invite3pid.length > 0) {
    throw new MatrixError(400, 'M_UNRECOGNIZED', 'Third-party invites are not supported');
  }
  return input;
}

export function roomMembershipRoutes(r: RouteTable, hs: HomeserverContext): void {
  const auth = hs.auth.required;
  const limit = hs.limits;

  r.post('/createRoom', auth, limit.perUser('room_creation_per_user'), async (req, res) => {
    const me = requesterOf(res);
    const input = parseCreateRoom(req);
    // Users of other servers are invited once the room exists: their servers must co-sign each invite.
    const remote = hs.remoteMembership;
    const remoteInvites = remote ? [...new Set(input.invite ?? [])].filter((u) => isValidUserId(u) && !hs.resolver.isLocal(u, '@')) : [];
    const roomId = await hs.creator.create(me, { ...input, invite: (input.invite ?? []).filter((u) => !remoteInvites.includes(u)) });
    hs.logger.info({ room_id: roomId, user_id: me.userId }, 'room created');
    for (const target of remoteInvites) {
      const content = hs.memberships.memberContent(target, 'invite', input.is_direct ? { is_direct: true } : {});
      try {
        await remote!.invite(me.userId, roomId, target, content);
      } catch (err) {
        // The room exists: failing the request now would leave the client without its id. It can invite again.
        hs.logger.warn({ err, room_id: roomId, user_id: target }, 'createRoom: the invite of a user on another server failed');
      }
    }
    res.json({ room_id: roomId });
  });

  r.post('/join/:roomIdOrAlias', auth, limit.perUser('joins_per_user'), async (req, res) => {
    res.json({ room_id: await join(hs, req, res, param(req, 'roomIdOrAlias')) });
  });

  r.post('/rooms/:roomId/join', auth, limit.perUser('joins_per_user'), async (req, res) => {
    res.json({ room_id: await join(hs, req, res, roomIdParam(req)) });
  });

  r.post('/knock/:roomIdOrAlias', auth, limit.perUser('joins_per_user'), async (req, res) => {
    const me = requesterOf(res);
    const reason = body(req).optString('reason');
    const { roomId, servers } = await joinTarget(hs, req, param(req, 'roomIdOrAlias'));
    const remote = hs.remoteMembership;
    if (remote?.needsRemoteJoin(roomId)) await remote.knock(me.userId, roomId, servers, hs.memberships.memberContent(me.userId, 'knock', { reason }));
    else hs.memberships.knock(me, roomId, reason);
    res.json({ room_id: roomId });
  });

  r.post('/rooms/:roomId/invite', auth, limit.perUser('invites_per_user'), async (req, res) => {
    const b = body(req);
    if (b.raw['user_id'] === undefined && b.raw['medium'] !== undefined) {
      throw new MatrixError(400, 'M_UNRECOGNIZED', 'Third-party invites are not supported');
    }
    const target = b.string('user_id');
    const remote = hs.remoteMembership;
    if (remote && isValidUserId(target) && !hs.resolver.isLocal(target, '@')) {
      const roomId = roomIdParam(req);
      if (hs.events.membership(roomId, target)?.membership !== 'invite') {
        await remote.invite(requesterOf(res).userId, roomId, target, hs.memberships.memberContent(target, 'invite', { reason: b.optString('reason') }));
      }
    } else {
      await hs.memberships.invite(requesterOf(res), roomIdParam(req), target, b.optString('reason'));
    }
    res.json({});
  });

  r.post('/rooms/:roomId/leave', auth, async (req, res) => {
    const me = requesterOf(res);
    const roomId = roomIdParam(req);
    const reason = body(req).optString('reason');
    const remote = hs.remoteMembership;
    if (remote?.needsRemoteLeave(me.userId, roomId)) await remote.leave(me.userId, roomId, hs.memberships.memberContent(me.userId, 'leave', { reason }));
    else hs.memberships.leave(me, roomId, reason);
    res.json({});
  });

  r.post('/rooms/:roomId/kick', auth, (req, res) => {
    const b = body(req);
    hs.memberships.kick(requesterOf(res), roomIdParam(req), b.string('user_id'), b.optString('reason'));
    res.json({});
  });

  r.post('/rooms/:roomId/ban', auth, (req, res) => {
    const b = body(req);
    hs.memberships.ban(requesterOf(res), roomIdParam(req), b.string('user_id'), b.optString('reason'));
    res.json({});
  });

  r.post('/rooms/:roomId/unban', auth, (req, res) => {
    const b = body(req);
    hs.memberships.unban(requesterOf(res), roomIdParam(req), b.string('user_id'), b.optString('reason'));
    res.json({});
  });

  r.post('/rooms/:roomId/forget', auth, (req, res) => {
    hs.memberships.forget(requesterOf(res), roomIdParam(req));
    res.json({});
  });

  r.get('/joined_rooms', auth, (_req, res) => {
    const me = requesterOf(res);
    const joined = hs.events.membershipsOfUser(me.userId).filter((m) => m.membership === 'join');
    res.json({ joined_rooms: joined.map((m) => m.room_id) });
  });
}

/** A join here, or through another server (`server_name`/`via`, or the servers of a remote alias) when the room lives elsewhere. */
async function join(hs: HomeserverContext, req: Request, res: Response, roomIdOrAlias: string): Promise<string> {
  const me = requesterOf(res);
  const reason = body(req).optString('reason');
  const { roomId, servers } = await joinTarget(hs, req, roomIdOrAlias);
  const remote = hs.remoteMembership;
  if (remote?.needsRemoteJoin(roomId)) {
    await remote.join(me.userId, roomId, servers, hs.memberships.memberContent(me.userId, 'join', { reason }));
    return roomId;
  }
  return hs.memberships.join(me, roomId, reason);
}
