// POST /createRoom: the spec's order of initial events, all in one transaction, so a room either exists
// complete or not at all.
import { MatrixError } from '../MatrixError.js';
import type { AppserviceGateway, Requester } from '../contracts.js';
import type { EventStore } from '../events/EventStore.js';
import { isValidUserId, newRoomId } from '../ids/MatrixIds.js';
import type { EntityResolver } from './EntityResolver.js';
import type { EventAppender } from './EventAppender.js';
import type { MembershipService } from './MembershipService.js';
import { MAIN_LIST, type RoomDirectory } from './RoomDirectory.js';
import { DEFAULT_ROOM_VERSION, isSupportedRoomVersion } from './RoomVersions.js';

export type RoomPreset = 'private_chat' | 'public_chat' | 'trusted_private_chat';

export interface CreateRoomInput {
  visibility?: 'public' | 'private';
  room_alias_name?: string;
  name?: string;
  topic?: string;
  invite?: string[];
  room_version?: string;
  creation_content?: Record<string, unknown>;
  initial_state?: Array<{ type: string; state_key?: string; content: Record<string, unknown> }>;
  preset?: RoomPreset;
  is_direct?: boolean;
  power_level_content_override?: Record<string, unknown>;
}

export class RoomCreator {
  constructor(
    private readonly serverName: string,
    private readonly events: EventStore,
    private readonly appender: EventAppender,
    private readonly memberships: MembershipService,
    private readonly directory: RoomDirectory,
    private readonly resolver: EntityResolver,
    private readonly gateway: () => AppserviceGateway,
  ) {}

  async create(r: Requester, input: CreateRoomInput): Promise<string> {
    const version = input.room_version ?? DEFAULT_ROOM_VERSION;
    if (!isSupportedRoomVersion(version)) {
      throw new MatrixError(400, 'M_UNSUPPORTED_ROOM_VERSION', `Room version ${JSON.stringify(version)} is not supported`);
    }
    let alias: string | null = null;
    if (input.room_alias_name !== undefined) {
      const name = input.room_alias_name;
      if (name.length === 0 || /[:\s\0]/.test(name)) {
        throw new MatrixError(400, 'M_INVALID_PARAM', 'room_alias_name may not be empty or contain ":" or whitespace');
      }
      alias = `#${name}:${this.serverName}`;
      if (Buffer.byteLength(alias) > 255) throw new MatrixError(400, 'M_INVALID_PARAM', 'Alias is too long');
      if (this.gateway().isExclusiveAlias(alias, r.appserviceId)) {
        throw new MatrixError(400, 'M_EXCLUSIVE', `Alias ${alias} is reserved by an application service`);
      }
      if (this.directory.resolve(alias)) throw new MatrixError(400, 'M_ROOM_IN_USE', `Alias ${alias} already exists`);
    }
    // Inviting oneself would fail the auth rules (already joined): drop it rather than fail the creation.
    const invites = [...new Set(input.invite ?? [])].filter((u) => u !== r.userId);
    for (const u of invites) {
      if (!isValidUserId(u)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid user ID ${JSON.stringify(u)}`);
      if (!this.resolver.isLocal(u, '@')) {
        throw new MatrixError(403, 'M_FORBIDDEN', 'This server does not federate: only local users can be invited');
      }
      if (!(await this.resolver.userExists(u))) throw new MatrixError(404, 'M_NOT_FOUND', `Unknown user ${u}`);
    }
    const preset: RoomPreset = input.preset ?? (input.visibility === 'public' ? 'public_chat' : 'private_chat');
    const roomId = newRoomId(this.serverName);
    const creator = r.userId;

    this.events.write(() => {
      this.events.insertRoom(roomId, version, creator);
      const room = this.appender.requireRoom(roomId);
      const add = (type: string, stateKey: string | undefined, content: Record<string, unknown>): void => {
        this.appender.append(room, { room_id: roomId, sender: creator, type, state_key: stateKey, content });
      };
      const createContent: Record<string, unknown> = { ...(input.creation_content ?? {}), room_version: version };
      if (version === '11') delete createContent['creator'];
      else createContent['creator'] = creator;
      add('m.room.create', '', createContent);
      this.memberships.appendMember(room, creator, creator, this.memberships.memberContent(creator, 'join'));

      const users: Record<string, number> = { [creator]: 100 };
      if (preset === 'trusted_private_chat') for (const u of invites) users[u] = 100;
      const defaultLevels: Record<string, unknown> = {
        users,
        users_default: 0,
        events: {
          'm.room.name': 50,
          'm.room.power_levels': 100,
          'm.room.history_visibility': 100,
          'm.room.canonical_alias': 50,
          'm.room.avatar': 50,
          'm.room.tombstone': 100,
          'm.room.server_acl': 100,
          'm.room.encryption': 100,
        },
        events_default: 0,
        state_default: 50,
        ban: 50,
        kick: 50,
        redact: 50,
        invite: preset === 'public_chat' ? 50 : 0,
        notifications: { room: 50 },
      };
      const finalLevels = { ...defaultLevels, ...(input.power_level_content_override ?? {}) };
      const finalUsers = finalLevels['users'];
      const creatorKeepsPower =
        typeof finalUsers === 'object' && finalUsers !== null && (finalUsers as Record<string, unknown>)[creator] === 100;
      // An override that demotes the creator would block the rest of the setup: apply it last instead.
      add('m.room.power_levels', '', creatorKeepsPower ? finalLevels : defaultLevels);

      if (alias) {
        if (!this.directory.create(alias, roomId, creator)) {
          throw new MatrixError(400, 'M_ROOM_IN_USE', `Alias ${alias} already exists`);
        }
        add('m.room.canonical_alias', '', { alias });
      }

      // The preset's state, which initial_state may replace entry by entry.
      const initial = new Map<string, { type: string; stateKey: string; content: Record<string, unknown> }>();
      const put = (type: string, stateKey: string, content: Record<string, unknown>): void => {
        initial.set(`${type}\u0000${stateKey}`, { type, stateKey, content });
      };
      put('m.room.join_rules', '', { join_rule: preset === 'public_chat' ? 'public' : 'invite' });
      put('m.room.history_visibility', '', { history_visibility: 'shared' });
      if (preset !== 'public_chat') put('m.room.guest_access', '', { guest_access: 'can_join' });
      for (const s of input.initial_state ?? []) {
        if (s.type === 'm.room.create' || s.type === 'm.room.member') {
          throw new MatrixError(400, 'M_INVALID_PARAM', `initial_state may not contain ${s.type}`);
        }
        put(s.type, s.state_key ?? '', s.content);
      }
      if (input.name !== undefined) put('m.room.name', '', { name: input.name });
      if (input.topic !== undefined) {
        put('m.room.topic', '', { topic: input.topic, 'm.topic': { 'm.text': [{ body: input.topic, mimetype: 'text/plain' }] } });
      }
      for (const s of initial.values()) add(s.type, s.stateKey, s.content);
      if (!creatorKeepsPower) add('m.room.power_levels', '', finalLevels);

      for (const u of invites) {
        const extra = input.is_direct ? { is_direct: true } : {};
        this.memberships.appendMember(room, creator, u, this.memberships.memberContent(u, 'invite', extra));
      }
      if (input.visibility === 'public') this.directory.setPublished(MAIN_LIST, roomId, true);
    });
    return roomId;
  }
}
