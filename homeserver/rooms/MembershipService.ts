// Joining, inviting, leaving, kicking, banning and forgetting: each is one m.room.member event that passes
// the auth rules, plus the conveniences clients expect (join by alias, repeated joins are no-ops).
import { MatrixError } from '../MatrixError.js';
import type { Requester } from '../contracts.js';
import type { AccountStore } from '../accounts/AccountStore.js';
import type { EventStore, RoomRow } from '../events/EventStore.js';
import type { StoredEvent } from '../events/StoredEvent.js';
import { isValidAlias, isValidRoomId, isValidUserId } from '../ids/MatrixIds.js';
import type { EntityResolver } from './EntityResolver.js';
import type { EventAppender } from './EventAppender.js';

export class MembershipService {
  constructor(
    private readonly events: EventStore,
    private readonly appender: EventAppender,
    private readonly accounts: AccountStore,
    private readonly resolver: EntityResolver,
  ) {}

  /** The member event content for `membership`, carrying the target's profile for join and invite. */
  memberContent(userId: string, membership: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const content: Record<string, unknown> = { membership };
    if (membership === 'join' || membership === 'invite') {
      const profile = this.accounts.profile(userId);
      if (profile?.displayname) content['displayname'] = profile.displayname;
      if (profile?.avatar_url) content['avatar_url'] = profile.avatar_url;
    }
    for (const [k, v] of Object.entries(extra)) if (v !== undefined) content[k] = v;
    return content;
  }

  /** Appends a member event inside the current write(). */
  appendMember(room: RoomRow, sender: string, target: string, content: Record<string, unknown>, ts?: number): StoredEvent {
    return this.appender.append(room, {
      room_id: room.room_id,
      sender,
      type: 'm.room.member',
      state_key: target,
      content,
      origin_server_ts: ts,
    });
  }

  async join(r: Requester, roomIdOrAlias: string, reason?: string): Promise<string> {
    let roomId: string;
    if (isValidRoomId(roomIdOrAlias)) {
      roomId = roomIdOrAlias;
    } else if (isValidAlias(roomIdOrAlias)) {
      const resolved = await this.resolver.resolveAlias(roomIdOrAlias);
      if (!resolved) throw new MatrixError(404, 'M_NOT_FOUND', `Room alias ${roomIdOrAlias} not found`);
      roomId = resolved;
    } else {
      throw new MatrixError(400, 'M_INVALID_PARAM', `${JSON.stringify(roomIdOrAlias)} is neither a room ID nor an alias`);
    }
    this.events.write(() => {
      const room = this.appender.requireRoom(roomId);
      const current = this.events.membership(roomId, r.userId);
      if (current?.membership === 'join') return; // already joined: nothing changes
      this.appendMember(room, r.userId, r.userId, this.memberContent(r.userId, 'join', { reason }));
    });
    return roomId;
  }

  async invite(r: Requester, roomId: string, target: string, reason?: string, isDirect?: boolean): Promise<void> {
    if (!isValidUserId(target)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid user ID ${JSON.stringify(target)}`);
    this.appender.requireRoom(roomId);
    if (!this.resolver.isLocal(target, '@')) {
      throw new MatrixError(403, 'M_FORBIDDEN', 'This server does not federate: only local users can be invited');
    }
    if (!(await this.resolver.userExists(target))) throw new MatrixError(404, 'M_NOT_FOUND', `Unknown user ${target}`);
    this.events.write(() => {
      const room = this.appender.requireRoom(roomId);
      if (this.events.membership(roomId, target)?.membership === 'invite') return; // already invited
      const extra: Record<string, unknown> = { reason };
      if (isDirect) extra['is_direct'] = true;
      this.appendMember(room, r.userId, target, this.memberContent(target, 'invite', extra));
    });
  }

  /** Asks to be let into a room whose join rule is knock or knock_restricted; a repeated knock is a no-op. */
  knock(r: Requester, roomId: string, reason?: string): void {
    this.events.write(() => {
      const room = this.appender.requireRoom(roomId);
      if (this.events.membership(roomId, r.userId)?.membership === 'knock') return;
      this.appendMember(room, r.userId, r.userId, this.memberContent(r.userId, 'knock', { reason }));
    });
  }

  leave(r: Requester, roomId: string, reason?: string): void {
    this.events.write(() => {
      const room = this.appender.requireRoom(roomId);
      const current = this.events.membership(roomId, r.userId);
      if (current?.membership === 'leave') return;
      if (!current) throw new MatrixError(403, 'M_FORBIDDEN', `User ${r.userId} is not in room ${roomId}`);
      this.appendMember(room, r.userId, r.userId, this.memberContent(r.userId, 'leave', { reason }));
    });
  }

  kick(r: Requester, roomId: string, target: string, reason?: string): void {
    this.checkTarget(target);
    this.events.write(() => {
      const room = this.appender.requireRoom(roomId);
      const current = this.events.membership(roomId, target)?.membership;
      if (current !== 'join' && current !== 'invite' && current !== 'knock') {
        throw new MatrixError(403, 'M_FORBIDDEN', `User ${target} is not in the room`);
      }
      this.appendMember(room, r.userId, target, this.memberContent(target, 'leave', { reason }));
    });
  }

  ban(r: Requester, roomId: string, target: string, reason?: string): void {
    this.checkTarget(target);
    this.events.write(() => {
      const room = this.appender.requireRoom(roomId);
      if (this.events.membership(roomId, target)?.membership === 'ban') return;
      this.appendMember(room, r.userId, target, this.memberContent(target, 'ban', { reason }));
    });
  }

  unban(r: Requester, roomId: string, target: string, reason?: string): void {
    this.checkTarget(target);
    this.events.write(() => {
      const room = this.appender.requireRoom(roomId);
      if (this.events.membership(roomId, target)?.membership !== 'ban') {
        throw new MatrixError(403, 'M_FORBIDDEN', `User ${target} is not banned`);
      }
      this.appendMember(room, r.userId, target, this.memberContent(target, 'leave', { reason }));
    });
  }

  forget(r: Requester, roomId: string): void {
    this.events.write(() => {
      const current = this.events.membership(roomId, r.userId);
      if (!current) return;
      if (current.membership === 'join' || current.membership === 'invite' || current.membership === 'knock') {
        throw new MatrixError(400, 'M_UNKNOWN', 'You must leave the room before forgetting it');
      }
      this.events.forget(roomId, r.userId);
    });
  }

  /** After a profile change: a new member event in every room the user is joined to. */
  refreshProfile(userId: string): void {
    const content = this.memberContent(userId, 'join');
    this.events.write(() => {
      for (const m of this.events.membershipsOfUser(userId)) {
        if (m.membership !== 'join') continue;
        const room = this.events.room(m.room_id);
        const current = this.events.stateEvent(m.room_id, 'm.room.member', userId);
        if (!room || !current) continue;
        if (current.content['displayname'] === content['displayname'] && current.content['avatar_url'] === content['avatar_url']) {
          continue;
        }
        this.appendMember(room, userId, userId, content);
      }
    });
  }

  private checkTarget(target: string): void {
    if (!isValidUserId(target)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid user ID ${JSON.stringify(target)}`);
  }
}
