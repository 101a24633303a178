// Profiles, account data (global and per room, incl. tags) and presence.
import { MatrixError } from '../MatrixError.js';
import type { HomeserverContext } from '../HomeserverContext.js';
import { body, content, isJsonObject, param, requesterOf } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';
import { isValidRoomId, isValidUserId } from '../ids/MatrixIds.js';
import type { PresenceState } from '../ephemeral/PresenceTracker.js';

const PRESENCE_STATES = new Set(['online', 'offline', 'unavailable']);
/** Account data the server manages itself; clients change it through dedicated endpoints. */
const SERVER_MANAGED_TYPES = new Set(['m.push_rules', 'm.fully_read']);

export function userDataRoutes(r: RouteTable, hs: HomeserverContext): void {
  const auth = hs.auth.required;
  const self = (userId: string, me: string, what: string): void => {
    if (!isValidUserId(userId)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid user ID ${JSON.stringify(userId)}`);
    if (userId !== me) throw new MatrixError(403, 'M_FORBIDDEN', `Cannot ${what} of other users`);
  };

  // Profiles.
  // A user of another server: asked of their server (cached for a minute) when federation is on.
  const profileOf = async (userId: string): Promise<{ displayname: string | null; avatar_url: string | null }> => {
    if (!isValidUserId(userId)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid user ID ${JSON.stringify(userId)}`);
    if (hs.federation && !hs.resolver.isLocal(userId, '@')) {
      const remote = await hs.federation.queries.profile(userId);
      if (!remote) throw new MatrixError(404, 'M_NOT_FOUND', 'Profile not found');
      return { displayname: remote.displayname ?? null, avatar_url: remote.avatar_url ?? null };
    }
    const p = hs.accounts.profile(userId);
    if (!p) throw new MatrixError(404, 'M_NOT_FOUND', 'Profile not found');
    return p;
  };
  r.get('/profile/:userId', hs.auth.optional, async (req, res) => {
    const p = await profileOf(param(req, 'userId'));
    const out: Record<string, unknown> = {};
    if (p.displayname !== null) out['displayname'] = p.displayname;
    if (p.avatar_url !== null) out['avatar_url'] = p.avatar_url;
    res.json(out);
  });
  for (const field of ['displayname', 'avatar_url'] as const) {
    r.get(`/profile/:userId/${field}`, hs.auth.optional, async (req, res) => {
      const value = (await profileOf(param(req, 'userId')))[field];
      if (value === null) throw new MatrixError(404, 'M_NOT_FOUND', `No ${field} set`);
      res.json({ [field]: value });
    });
    r.put(`/profile/:userId/${field}`, auth, (req, res) => {
      const me = requesterOf(res);
      self(param(req, 'userId'), me.userId, 'set the profile');
      const value = body(req).optString(field) ?? null;
      if (value !== null && value.length > 1024) throw new MatrixError(400, 'M_TOO_LARGE', `${field} is too long`);
      if (field === 'avatar_url' && value !== null && value !== '' && !value.startsWith('mxc://')) {
        throw new MatrixError(400, 'M_INVALID_PARAM', 'avatar_url must be an mxc:// URI');
      }
      if (field === 'displayname') hs.accounts.setDisplayname(me.userId, value);
      else hs.accounts.setAvatarUrl(me.userId, value);
      hs.memberships.refreshProfile(me.userId);
      res.json({});
    });
  }

  // Account data.
  const dataType = (type: string): string => {
    if (type.length === 0 || type.length > 255) throw new MatrixError(400, 'M_INVALID_PARAM', 'Invalid account data type');
    return type;
  };
  const roomOf = (roomId: string): string => {
    if (!isValidRoomId(roomId)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid room ID ${JSON.stringify(roomId)}`);
    return roomId;
  };
  r.put('/user/:userId/account_data/:type', auth, (req, res) => {
    const me = requesterOf(res);
    self(param(req, 'userId'), me.userId, 'set account data');
    const type = dataType(param(req, 'type'));
    if (SERVER_MANAGED_TYPES.has(type)) throw new MatrixError(405, 'M_BAD_JSON', `Cannot set ${type} through the account data API`);
    hs.accountData.set(me.userId, null, type, content(req));
    res.json({});
  });
  r.get('/user/:userId/account_data/:type', auth, (req, res) => {
    const me = requesterOf(res);
    self(param(req, 'userId'), me.userId, 'read account data');
    const type = dataType(param(req, 'type'));
    const content =
      hs.accountData.get(me.userId, null, type) ?? (type === 'm.push_rules' ? hs.pushRules.accountDataContent(me.userId) : null);
    if (!content) throw new MatrixError(404, 'M_NOT_FOUND', 'Account data not found');
    res.json(content);
  });
  r.put('/user/:userId/rooms/:roomId/account_data/:type', auth, (req, res) => {
    const me = requesterOf(res);
    self(param(req, 'userId'), me.userId, 'set account data');
    const roomId = roomOf(param(req, 'roomId'));
    const type = dataType(param(req, 'type'));
    if (SERVER_MANAGED_TYPES.has(type)) throw new MatrixError(405, 'M_BAD_JSON', `Cannot set ${type} through the account data API`);
    hs.accountData.set(me.userId, roomId, type, content(req));
    res.json({});
  });
  r.get('/user/:userId/rooms/:roomId/account_data/:type', auth, (req, res) => {
    const me = requesterOf(res);
    self(param(req, 'userId'), me.userId, 'read account data');
    const content = hs.accountData.get(me.userId, roomOf(param(req, 'roomId')), dataType(param(req, 'type')));
    if (!content) throw new MatrixError(404, 'M_NOT_FOUND', 'Account data not found');
    res.json(content);
  });

  // Tags live in the room's m.tag account data.
  const tagsOf = (userId: string, roomId: string): Record<string, unknown> => {
    const content = hs.accountData.get(userId, roomId, 'm.tag');
    return content && isJsonObject(content['tags']) ? { ...content['tags'] } : {};
  };
  r.get('/user/:userId/rooms/:roomId/tags', auth, (req, res) => {
    const me = requesterOf(res);
    self(param(req, 'userId'), me.userId, 'read tags');
    res.json({ tags: tagsOf(me.userId, roomOf(param(req, 'roomId'))) });
  });
  r.put('/user/:userId/rooms/:roomId/tags/:tag', auth, (req, res) => {
    const me = requesterOf(res);
    self(param(req, 'userId'), me.userId, 'set tags');
    const roomId = roomOf(param(req, 'roomId'));
    const tag = content(req);
    const order = tag['order'];
    if (order !== undefined && typeof order !== 'number') throw new MatrixError(400, 'M_BAD_JSON', '"order" must be a number');
    const tags = tagsOf(me.userId, roomId);
    tags[param(req, 'tag')] = tag;
    hs.accountData.set(me.userId, roomId, 'm.tag', { tags });
    res.json({});
  });
  r.delete('/user/:userId/rooms/:roomId/tags/:tag', auth, (req, res) => {
    const me = requesterOf(res);
    self(param(req, 'userId'), me.userId, 'delete tags');
    const roomId = roomOf(param(req, 'roomId'));
    const tags = tagsOf(me.userId, roomId);
    delete tags[param(req, 'tag')];
    hs.accountData.set(me.userId, roomId, 'm.tag', { tags });
    res.json({});
  });

  // Presence.
  r.put('/presence/:userId/status', auth, (req, res) => {
    const me = requesterOf(res);
    self(param(req, 'userId'), me.userId, 'set the presence');
    const b = body(req);
    const presence = b.string('presence');
    if (!PRESENCE_STATES.has(presence)) throw new MatrixError(400, 'M_INVALID_PARAM', `Unknown presence ${JSON.stringify(presence)}`);
    const msg = b.raw['status_msg'];
    if (msg !== undefined && msg !== null && typeof msg !== 'string') throw new MatrixError(400, 'M_BAD_JSON', '"status_msg" must be a string');
    hs.presence.set(me.userId, presence as PresenceState, msg === undefined ? undefined : (msg as string | null));
    res.json({});
  });
  r.get('/presence/:userId/status', auth, (req, res) => {
    const userId = param(req, 'userId');
    if (!isValidUserId(userId)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid user ID ${JSON.stringify(userId)}`);
    const rec = hs.presence.get(userId);
    // Another server's user is known here from their server's m.presence EDUs only.
    const known = hs.resolver.isLocal(userId, '@') ? hs.accounts.exists(userId) : rec !== null;
    if (!known) throw new MatrixError(404, 'M_NOT_FOUND', 'Unknown user');
    if (!rec) {
      res.json({ presence: 'offline' });
      return;
    }
    const c = hs.presence.content(userId, rec);
    delete c['user_id'];
    res.json(c);
  });

}
