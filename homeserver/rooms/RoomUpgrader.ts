// POST /rooms/{roomId}/upgrade, as Synapse does it: a new room whose create event names its predecessor,
// the old room's settings and bans copied over (power levels with everyone's levels kept), local aliases,
// the canonical alias and directory listings moved, a tombstone in the old room pointing at the new one,
// and the old room's power levels raised so that ordinary members can no longer talk or invite there.
// All of it is one transaction: the upgrade happens completely or not at all. Members of other servers
// are not invited here: their servers must co-sign each invite, so the caller invites them afterwards.
import { MatrixError } from '../MatrixError.js';
import type { Requester } from '../contracts.js';
import type { EventStore, RoomRow } from '../events/EventStore.js';
import { newRoomId } from '../ids/MatrixIds.js';
import type { EventAppender } from './EventAppender.js';
import type { MembershipService } from './MembershipService.js';
import { PowerLevels } from './PowerLevels.js';
import type { RoomDirectory } from './RoomDirectory.js';
import { isSupportedRoomVersion } from './RoomVersions.js';

/** Room state that carries over to the replacement room as it is. */
const COPIED_STATE = [
  'm.room.server_acl',
  'm.room.encryption',
  'm.room.name',
  'm.room.topic',
  'm.room.avatar',
  'm.room.join_rules',
  'm.room.guest_access',
  'm.room.history_visibility',
];
/** Create-event keys that describe the room rather than its version (federation, space or not). */
const COPIED_CREATE_KEYS = ['m.federate', 'type'];

export interface RoomUpgrade {
  replacementRoom: string;
  /** Joined members of the old room on other servers, to invite to the replacement through their servers. */
  remoteInvitees: string[];
}

export class RoomUpgrader {
  constructor(
    private readonly serverName: string,
    private readonly events: EventStore,
    private readonly appender: EventAppender,
    private readonly memberships: MembershipService,
    private readonly directory: RoomDirectory,
  ) {}

  upgrade(r: Requester, oldRoomId: string, newVersion: string): RoomUpgrade {
    if (!isSupportedRoomVersion(newVersion)) {
      throw new MatrixError(400, 'M_UNSUPPORTED_ROOM_VERSION', `Room version ${JSON.stringify(newVersion)} is not supported`);
    }
    const newRoomIdValue = newRoomId(this.serverName);
    let remoteInvitees: string[] = [];
    this.events.write(() => {
      // Not being in the room comes first, so an unknown room is 403 too (the spec names no 404 here).
      if (this.events.membership(oldRoomId, r.userId)?.membership !== 'join') {
        throw new MatrixError(403, 'M_FORBIDDEN', `User ${r.userId} is not in room ${oldRoomId}`);
      }
      const old = this.appender.requireRoom(oldRoomId);
      const state = this.events.liveState(oldRoomId);
      const levels = PowerLevels.of(state, old.room_version);
      if (levels.userLevel(r.userId) < levels.eventLevel('m.room.tombstone', true)) {
        throw new MatrixError(403, 'M_FORBIDDEN', 'You cannot upgrade this room: it needs the power to send m.room.tombstone');
      }
      if (this.events.stateEvent(oldRoomId, 'm.room.tombstone', '')?.content['replacement_room']) {
        throw new MatrixError(400, 'M_BAD_STATE', `Room ${oldRoomId} has already been replaced`);
      }
      const tombstone = this.appender.append(old, {
        room_id: oldRoomId,
        sender: r.userId,
        type: 'm.room.tombstone',
        state_key: '',
        content: { body: 'This room has been replaced', replacement_room: newRoomIdValue },
      });
      remoteInvitees = this.createReplacement(r.userId, old, newRoomIdValue, newVersion, tombstone.event_id);
      this.moveAliases(r.userId, old, newRoomIdValue);
      this.directory.moveListings(oldRoomId, newRoomIdValue);
      this.restrictOldRoom(r.userId, old);
    });
    return { replacementRoom: newRoomIdValue, remoteInvitees };
  }

  /** Makes the replacement room; returns the members of other servers it has yet to invite. */
  private createReplacement(upgrader: string, old: RoomRow, roomId: string, version: string, tombstoneId: string): string[] {
    this.events.insertRoom(roomId, version, upgrader);
    const room = this.appender.requireRoom(roomId);
    const add = (type: string, stateKey: string, content: Record<string, unknown>): void => {
      this.appender.append(room, { room_id: roomId, sender: upgrader, type, state_key: stateKey, content });
    };
    const oldCreate = this.events.stateEvent(old.room_id, 'm.room.create', '')!.content;
    const create: Record<string, unknown> = { room_version: version, predecessor: { room_id: old.room_id, event_id: tombstoneId } };
    for (const k of COPIED_CREATE_KEYS) if (oldCreate[k] !== undefined) create[k] = oldCreate[k];
    if (version !== '11') create['creator'] = upgrader;
    add('m.room.create', '', create);
    this.memberships.appendMember(room, upgrader, upgrader, this.memberships.memberContent(upgrader, 'join'));

    // The upgrader needs enough power to set everything up; the old levels, theirs included, come last.
    const oldLevels = this.events.stateEvent(old.room_id, 'm.room.power_levels', '')?.content;
    const users = (oldLevels?.['users'] as Record<string, unknown> | undefined) ?? {};
    add('m.room.power_levels', '', { ...(oldLevels ?? {}), users: { ...users, [upgrader]: highestLevel(oldLevels) } });
    for (const type of COPIED_STATE) {
      const ev = this.events.stateEvent(old.room_id, type, '');
      if (ev && Object.keys(ev.content).length > 0) add(type, '', ev.content);
    }
    const members = this.events.members(old.room_id);
    for (const m of members.filter((row) => row.membership === 'ban')) {
      const reason = this.events.event(m.event_id)?.content['reason'];
      this.tryAppend(room, upgrader, 'm.room.member', { membership: 'ban', ...(typeof reason === 'string' && { reason }) }, m.user_id);
    }
    // There is nothing to gain from making members of a closed room knock: everyone joined to the old
    // room is invited, so people and bridges can follow the tombstone.
    const remote: string[] = [];
    if (this.events.stateEvent(roomId, 'm.room.join_rules', '')?.content['join_rule'] !== 'public') {
      for (const m of members.filter((row) => row.membership === 'join' && row.user_id !== upgrader)) {
        if (m.user_id.slice(m.user_id.indexOf(':') + 1) !== this.serverName) remote.push(m.user_id);
        else this.memberships.appendMember(room, upgrader, m.user_id, this.memberships.memberContent(m.user_id, 'invite'));
      }
    }
    add('m.room.power_levels', '', oldLevels ?? { users: { [upgrader]: 100 } });
    return remote;
  }

  /** Local aliases now lead to the new room, which takes over the canonical alias; the old room keeps none. */
  private moveAliases(upgrader: string, old: RoomRow, roomId: string): void {
    for (const alias of this.directory.aliasesOf(old.room_id)) this.directory.repoint(alias, roomId);
    const canonical = this.events.stateEvent(old.room_id, 'm.room.canonical_alias', '');
    if (!canonical || Object.keys(canonical.content).length === 0) return;
    const room = this.appender.requireRoom(roomId);
    this.appender.append(room, { room_id: roomId, sender: upgrader, type: 'm.room.canonical_alias', state_key: '', content: canonical.content });
    this.tryAppend(old, upgrader, 'm.room.canonical_alias', {});
  }

  /** Synapse's rule: invite and events_default rise to max(users_default + 1, 50). */
  private restrictOldRoom(upgrader: string, old: RoomRow): void {
    const content = this.events.stateEvent(old.room_id, 'm.room.power_levels', '')?.content;
    if (!content) return;
    const usersDefault = typeof content['users_default'] === 'number' ? content['users_default'] : 0;
    const restricted = Math.max(usersDefault + 1, 50);
    const updated = { ...content };
    let changed = false;
    for (const key of ['invite', 'events_default']) {
      const current = typeof content[key] === 'number' ? content[key] : 0;
      if (current < restricted) {
        updated[key] = restricted;
        changed = true;
      }
    }
    if (changed) this.tryAppend(old, upgrader, 'm.room.power_levels', updated);
  }

  /** A change to the old room the upgrader may lack the power for: the upgrade goes ahead without it. */
  private tryAppend(room: RoomRow, sender: string, type: string, content: Record<string, unknown>, stateKey = ''): void {
    try {
      this.appender.append(room, { room_id: room.room_id, sender, type, state_key: stateKey, content });
    } catch (err) {
      if (!(err instanceof MatrixError) || err.status !== 403) throw err;
    }
  }
}

/** The highest level a power-levels content names (at least 100): enough to send and grant anything in it. */
function highestLevel(content: Record<string, unknown> | undefined): number {
  const numbers = (o: unknown): number[] =>
    o && typeof o === 'object' ? Object.values(o).flatMap((v) => (typeof v === 'number' ? [v] : numbers(v))) : [];
  return Math.max(100, ...numbers(content));
}
