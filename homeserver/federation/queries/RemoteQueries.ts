// What a local client asks about another server, asked of that server over federation: profiles
// (cached for a minute), room aliases, public room lists, and device keys (query and claim). Every
// answer is another server's input: only the expected fields of the expected types are kept, and
// keys only for the users of the server that answered. A failure is a MatrixError the client can
// act on: the peer's 400/403/404 with its errcode, anything else 502 M_UNKNOWN.
import { MatrixError } from '../../MatrixError.js';
import { isJsonObject, type JsonObject } from '../../http/RequestReader.js';
import { parseId } from '../../ids/MatrixIds.js';
import { FederationRequestError, type FederationClient } from '../transport/FederationClient.js';

export const PROFILE_CACHE_MS = 60_000;
const MAX_CACHED_PROFILES = 10_000;

export interface RemoteProfile {
  displayname?: string;
  avatar_url?: string;
}

/** The client's view of a failed federation request. */
export function clientErrorOf(err: unknown): MatrixError {
  if (!(err instanceof FederationRequestError)) return err instanceof MatrixError ? err : new MatrixError(502, 'M_UNKNOWN', String(err));
  if (err.status === 400 || err.status === 403 || err.status === 404) {
    return new MatrixError(err.status, err.errcode ?? (err.status === 404 ? 'M_NOT_FOUND' : 'M_UNKNOWN'), err.message);
  }
  return new MatrixError(502, 'M_UNKNOWN', `Could not get an answer from ${err.destination}: ${err.message}`);
}

/** A failure for the `failures` map of /keys/query and /keys/claim. */
export function failureOf(err: unknown): JsonObject {
  if (err instanceof FederationRequestError) {
    return { errcode: err.errcode ?? 'M_UNKNOWN', error: err.message, ...(err.status !== null && { status: err.status }) };
  }
  return { errcode: 'M_UNKNOWN', error: String(err) };
}

const serverOf = (userId: string): string | null => parseId(userId, '@')?.server ?? null;

/** The entries of `section` for users of `server` only. */
function forUsersOf(server: string, section: unknown): JsonObject {
  const out: JsonObject = {};
  if (!isJsonObject(section)) return out;
  for (const [userId, value] of Object.entries(section)) {
    if (serverOf(userId) === server && isJsonObject(value)) out[userId] = value;
  }
  return out;
}

export class RemoteQueries {
  private readonly profiles = new Map<string, { profile: RemoteProfile | null; until: number }>();

  constructor(
    private readonly client: FederationClient,
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The remote user's profile; null when their server says there is none. */
  async profile(userId: string): Promise<RemoteProfile | null> {
    const hit = this.profiles.get(userId);
    if (hit && hit.until > this.now()) return hit.profile;
    const server = serverOf(userId)!;
    let profile: RemoteProfile | null;
    try {
      const answer = await this.client.request(server, 'GET', `/_matrix/federation/v1/query/profile?user_id=${encodeURIComponent(userId)}`, undefined, {
        timeoutMs: this.timeoutMs,
      });
      profile = {};
      if (isJsonObject(answer)) {
        for (const field of ['displayname', 'avatar_url'] as const) {
          const v = answer[field];
          if (typeof v === 'string' && v.length <= 1024) profile[field] = v;
        }
      }
    } catch (err) {
      if (!(err instanceof FederationRequestError && err.status === 404)) throw clientErrorOf(err);
      profile = null;
    }
    this.profiles.delete(userId);
    if (this.profiles.size >= MAX_CACHED_PROFILES) this.profiles.delete(this.profiles.keys().next().value as string);
    this.profiles.set(userId, { profile, until: this.now() + PROFILE_CACHE_MS });
    return profile;
  }

  /** GET /directory/room/{alias} for an alias of another server; null when it has no such alias. */
  async roomAlias(alias: string): Promise<{ room_id: string; servers: string[] } | null> {
    const server = parseId(alias, '#')!.server;
    try {
      const answer = await this.client.request(server, 'GET', `/_matrix/federation/v1/query/directory?room_alias=${encodeURIComponent(alias)}`, undefined, {
        timeoutMs: this.timeoutMs,
      });
      const roomId = isJsonObject(answer) ? answer['room_id'] : undefined;
      if (typeof roomId !== 'string' || !roomId.startsWith('!')) throw new MatrixError(502, 'M_UNKNOWN', `${server} answered the alias query without a room ID`);
      const listed = isJsonObject(answer) && Array.isArray(answer['servers']) ? answer['servers'] : [];
      const servers = listed.filter((s): s is string => typeof s === 'string').slice(0, 100);
      return { room_id: roomId, servers: servers.length > 0 ? servers : [server] };
    } catch (err) {
      if (err instanceof FederationRequestError && err.status === 404) return null;
      throw clientErrorOf(err);
    }
  }

  /** The public rooms of `server`: GET with query parameters, or POST with a body (filters). */
  async publicRooms(server: string, request: { query: URLSearchParams } | { body: JsonObject }): Promise<JsonObject> {
    try {
      const answer =
        'query' in request
          ? await this.client.request(server, 'GET', `/_matrix/federation/v1/publicRooms${request.query.size > 0 ? `?${request.query}` : ''}`, undefined, {
              timeoutMs: this.timeoutMs,
            })
          : await this.client.request(server, 'POST', '/_matrix/federation/v1/publicRooms', request.body, { timeoutMs: this.timeoutMs });
      if (!isJsonObject(answer) || !Array.isArray(answer['chunk'])) throw new MatrixError(502, 'M_UNKNOWN', `${server} answered without a list of rooms`);
      const out: JsonObject = { chunk: answer['chunk'].filter((r) => isJsonObject(r) && typeof r['room_id'] === 'string') };
      for (const k of ['next_batch', 'prev_batch'] as const) if (typeof answer[k] === 'string') out[k] = answer[k];
      if (typeof answer['total_room_count_estimate'] === 'number') out['total_room_count_estimate'] = answer['total_room_count_estimate'];
      return out;
    } catch (err) {
      throw clientErrorOf(err);
    }
  }

  /** POST user/keys/query on `server` for its users; throws FederationRequestError. */
  async keysQuery(server: string, users: Record<string, string[]>, timeoutMs: number): Promise<Record<'device_keys' | 'master_keys' | 'self_signing_keys', JsonObject>> {
    const answer = await this.client.request(server, 'POST', '/_matrix/federation/v1/user/keys/query', { device_keys: users }, { timeoutMs });
    const a = isJsonObject(answer) ? answer : {};
    const deviceKeys = forUsersOf(server, a['device_keys']);
    for (const [userId, byDevice] of Object.entries(deviceKeys)) {
      // A device's keys must name the user and device they are filed under.
      const kept: JsonObject = {};
      for (const [deviceId, key] of Object.entries(byDevice as JsonObject)) {
        if (isJsonObject(key) && key['user_id'] === userId && key['device_id'] === deviceId) kept[deviceId] = key;
      }
      deviceKeys[userId] = kept;
    }
    return { device_keys: deviceKeys, master_keys: forUsersOf(server, a['master_keys']), self_signing_keys: forUsersOf(server, a['self_signing_keys']) };
  }

  /** POST user/keys/claim on `server` for its users; throws FederationRequestError. */
  async keysClaim(server: string, wanted: Record<string, Record<string, string>>, timeoutMs: number): Promise<JsonObject> {
    const answer = await this.client.request(server, 'POST', '/_matrix/federation/v1/user/keys/claim', { one_time_keys: wanted }, { timeoutMs });
    return forUsersOf(server, isJsonObject(answer) ? answer['one_time_keys'] : undefined);
  }
}
