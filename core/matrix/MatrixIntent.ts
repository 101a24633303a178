import { randomUUID } from 'node:crypto';
import type { GhostProfile, Intent, MatrixEvent, MediaContent, PresenceState } from '../plugin-api/index.js';
import type { ClientServerApi } from './ClientServerApi.js';
import type { IntentCaches } from './IntentCaches.js';
import { MatrixApiError } from '../plugin-api/MatrixApiError.js';

/** Told when an intent's user joins or leaves a room through it (the host tracks its rooms). */
export interface MembershipListener {
  joined(userId: string, roomId: string): Promise<void>;
  left(userId: string, roomId: string): Promise<void>;
}

/** Wraps the lookups of aliases in the appservice's own namespaces (see OwnAliasLookups). */
export interface AliasLookupGuard {
  around<T>(alias: string, lookup: () => Promise<T>): Promise<T>;
}

export interface MatrixIntentOptions {
  userId: string;
  api: ClientServerApi;
  caches: IntentCaches;
  /** The appservice's sender exists without registering. */
  isSender: boolean;
  /** Invites a ghost that may not join on its own (an invite-only room); absent for the bot itself. */
  inviter?: () => MatrixIntent;
  listener?: MembershipListener;
  aliasLookups?: AliasLookupGuard;
}

const noListener: MembershipListener = { joined: async () => undefined, left: async () => undefined };

/**
 * One user acting in Matrix with the as_token and `user_id` assertion: registered and joined on first
 * use; profile written only when it differs from what the homeserver has.
 */
export class MatrixIntent implements Intent {
  readonly userId: string;
  private readonly api: ClientServerApi;
  private readonly caches: IntentCaches;
  private readonly listener: MembershipListener;

  constructor(private readonly options: MatrixIntentOptions) {
    this.userId = options.userId;
    this.api = options.api;
    this.caches = options.caches;
    this.listener = options.listener ?? noListener;
  }

  get localpart(): string {
    return this.userId.slice(1, this.userId.indexOf(':'));
  }

  async ensureRegistered(): Promise<void> {
    if (this.options.isSender || this.caches.registered.has(this.userId)) return;
    await shared(this.caches.registering, this.userId, async () => {
      await this.api.registerAppserviceUser(this.localpart);
      this.caches.registered.set(this.userId, true);
    });
  }

  async ensureJoined(roomId: string): Promise<void> {
    if (this.caches.isJoined(this.userId, roomId) === true) return;
    await shared(this.caches.joining, `${this.userId}|${roomId}`, async () => {
      await this.ensureRegistered();
      if (this.caches.isJoined(this.userId, roomId) === undefined) {
        // After a restart the cache is empty: ask the homeserver instead of re-joining blindly, which
        // would send a fresh join event and could reset per-room profiles.
        this.caches.joined.set(this.userId, new Set(await this.api.joinedRooms(this.userId)));
        if (this.caches.isJoined(this.userId, roomId)) return;
      }
      await this.joinOrGetInvited(roomId);
    });
  }

  /**
   * Whether the user is joined to the room, from the cache or the homeserver; never joins. `fresh` asks
   * the homeserver even when the cache has an answer (a join made by another process is not in it).
   */
  async isJoined(roomId: string, fresh = false): Promise<boolean> {
    const known = fresh ? undefined : this.caches.isJoined(this.userId, roomId);
    if (known !== undefined) return known;
    this.caches.joined.set(this.userId, new Set(await this.api.joinedRooms(this.userId)));
    return this.caches.isJoined(this.userId, roomId) === true;
  }

  private async joinOrGetInvited(roomIdOrAlias: string): Promise<string> {
    let roomId: string;
    try {
      roomId = await this.api.join(this.userId, roomIdOrAlias);
    } catch (err) {
      const inviter = this.options.inviter?.();
      if (!MatrixApiError.is(err, 'M_FORBIDDEN') || !inviter || !roomIdOrAlias.startsWith('!')) throw err;
      // An invite-only room: the bridge bot (if it is in there) lets its ghost in.
      try {
        await inviter.invite(roomIdOrAlias, this.userId);
      } catch {
        throw err;
      }
      roomId = await this.api.join(this.userId, roomIdOrAlias);
    }
    this.caches.markJoined(this.userId, roomId);
    await this.listener.joined(this.userId, roomId);
    return roomId;
  }

  async setProfile(profile: GhostProfile): Promise<void> {
    await this.ensureRegistered();
    let current = this.caches.profiles.get(this.userId);
    if (!current) {
      const p = await this.api.getProfile(this.userId, this.userId);
      current = { ...(p.displayname !== undefined ? { displayName: p.displayname } : {}), ...(p.avatar_url !== undefined ? { avatarUrl: p.avatar_url } : {}) };
    }
    const next = { ...current };
    if (profile.displayName !== undefined && profile.displayName !== current.displayName) {
      await this.api.setDisplayName(this.userId, profile.displayName);
      next.displayName = profile.displayName;
    }
    if (profile.avatarUrl !== undefined && profile.avatarUrl !== current.avatarUrl) {
      await this.api.setAvatarUrl(this.userId, profile.avatarUrl);
      next.avatarUrl = profile.avatarUrl;
    }
    this.caches.profiles.set(this.userId, next);
  }

  async sendEvent(roomId: string, type: string, content: Record<string, unknown>, txnId?: string): Promise<string> {
    return this.sendEventAt(roomId, type, content, txnId ?? randomUUID());
  }

  /** sendEvent with the AS timestamp (`ts`): what the outbox uses for remote messages. */
  async sendEventAt(roomId: string, type: string, content: Record<string, unknown>, txnId: string, ts?: number): Promise<string> {
    return this.inRoom(roomId, () => this.api.sendEvent(this.userId, roomId, type, txnId, content, ts));
  }

  async sendState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<string> {
    return this.inRoom(roomId, () => this.api.sendState(this.userId, roomId, type, stateKey, content));
  }

  /** Runs an action that needs membership; a "not in room" answer means the cache was stale: rejoin once. */
  private async inRoom<T>(roomId: string, action: () => Promise<T>): Promise<T> {
    await this.ensureJoined(roomId);
    try {
      return await action();
    } catch (err) {
      if (!MatrixApiError.is(err, 'M_FORBIDDEN')) throw err;
      this.caches.markLeft(this.userId, roomId);
      this.caches.joined.delete(this.userId);
      await this.ensureJoined(roomId);
      return action();
    }
  }

  async createRoom(options: Record<string, unknown>): Promise<string> {
    await this.ensureRegistered();
    const roomId = await this.api.createRoom(this.userId, options);
    this.caches.markJoined(this.userId, roomId);
    await this.listener.joined(this.userId, roomId);
    return roomId;
  }

  async invite(roomId: string, userId: string): Promise<void> {
    await this.inRoom(roomId, () => this.api.invite(this.userId, roomId, userId));
  }

  async join(roomIdOrAlias: string): Promise<string> {
    await this.ensureRegistered();
    return this.joinOrGetInvited(roomIdOrAlias);
  }

  async leave(roomId: string, reason?: string): Promise<void> {
    await this.api.leave(this.userId, roomId, reason);
    this.caches.markLeft(this.userId, roomId);
    await this.listener.left(this.userId, roomId);
  }

  async kick(roomId: string, userId: string, reason?: string): Promise<void> {
    await this.inRoom(roomId, () => this.api.kick(this.userId, roomId, userId, reason));
  }

  async redact(roomId: string, eventId: string, reason?: string): Promise<void> {
    const txnId = randomUUID();
    await this.inRoom(roomId, () => this.api.redact(this.userId, roomId, eventId, txnId, reason));
  }

  async setTyping(roomId: string, typing: boolean, timeoutMs?: number): Promise<void> {
    await this.inRoom(roomId, () => this.api.setTyping(this.userId, roomId, typing, timeoutMs));
  }

  async setPresence(presence: PresenceState, statusMsg?: string): Promise<void> {
    await this.ensureRegistered();
    await this.api.setPresence(this.userId, presence, statusMsg);
  }

  async createAlias(alias: string, roomId: string): Promise<void> {
    await this.ensureRegistered();
    await this.api.createAlias(this.userId, alias, roomId);
  }

  async resolveAlias(alias: string): Promise<string | null> {
    const lookup = (): Promise<string | null> => this.api.resolveAlias(alias, this.userId);
    return this.options.aliasLookups ? this.options.aliasLookups.around(alias, lookup) : lookup();
  }

  async getStateEvent(roomId: string, type: string, stateKey: string): Promise<Record<string, unknown> | null> {
    return this.api.getState(this.userId, roomId, type, stateKey);
  }

  async getEvent(roomId: string, eventId: string): Promise<MatrixEvent | null> {
    return this.api.getEvent(this.userId, roomId, eventId);
  }

  async joinedMembers(roomId: string): Promise<Record<string, { display_name?: string; avatar_url?: string }>> {
    return this.api.joinedMembers(this.userId, roomId);
  }

  async getProfile(userId: string): Promise<GhostProfile> {
    const p = await this.api.getProfile(userId, this.userId);
    return { ...(p.displayname !== undefined ? { displayName: p.displayname } : {}), ...(p.avatar_url !== undefined ? { avatarUrl: p.avatar_url } : {}) };
  }

  async uploadMedia(bytes: Uint8Array, mimetype: string, filename: string): Promise<string> {
    await this.ensureRegistered();
    return this.api.upload(this.userId, bytes, mimetype, filename);
  }

  async downloadMedia(mxcUri: string): Promise<MediaContent> {
    const media = await this.api.download(this.userId, mxcUri);
    return { mxcUri, ...media };
  }
}

async function shared(inflight: Map<string, Promise<void>>, key: string, work: () => Promise<void>): Promise<void> {
  const running = inflight.get(key);
  if (running) return running;
  const p = work().finally(() => inflight.delete(key));
  inflight.set(key, p);
  return p;
}
