// The federation endpoints (docs/federation.md): the key server and notary under /_matrix/key/v2 (no
// authentication, as the spec says), and under /_matrix/federation/v1 the queries other servers make
// about this one: profiles, aliases, public rooms, devices and keys, media. Every one of those needs a
// valid X-Matrix signature from a server homeserver.federation.servers allows, and is counted against
// that server's rate limit (homeserver.rate_limits.federation_per_origin).
import type { RequestHandler } from 'express';
import type { Federation } from '../federation/Federation.js';
import type { HomeserverContext } from '../HomeserverContext.js';
import { Body, body, isJsonObject, param, query, queryInt } from '../http/RequestReader.js';
import { RouteTable } from '../http/RouteTable.js';
import { MatrixError } from '../MatrixError.js';
import { PublicRooms, publicRoomsQueryOf, publicRoomsQueryOfBody } from '../rooms/PublicRooms.js';
import { federationMediaRoutes } from './federationMediaRoutes.js';
import { federationSpaceRoutes } from './federationSpaceRoutes.js';
import { federationUserRoutes } from './federationUserRoutes.js';

/** Puts the signing server's name in res.locals.origin, or answers 401, 403 or 429. */
export function requireSignedRequest(hs: HomeserverContext, fed: Federation): RequestHandler {
  return async (req, res, next) => {
    const origin = await fed.authenticate({ method: req.method, uri: req.originalUrl, content: req.body as unknown }, req.headers.authorization);
    hs.limits.take('federation_per_origin', origin);
    // A server that signs a request to us is up: what waits for it goes now, not at the end of its backoff.
    hs.federationSender?.wake(origin);
    res.locals['origin'] = origin;
    next();
  };
}

/** Mounted under /_matrix/key/v2. */
export function keyServerRoutes(fed: Federation): RouteTable {
  const r = new RouteTable();
  r.get('/server', (_req, res) => {
    res.json(fed.keys.serverKeys());
  });
  r.get('/query/:serverName', async (req, res) => {
    res.json({ server_keys: await fed.notary.query({ [param(req, 'serverName')]: queryInt(req, 'minimum_valid_until_ts') }) });
  });
  r.post('/query', async (req, res) => {
    const criteria = new Body(req.body).raw['server_keys'];
    if (!isJsonObject(criteria)) throw new MatrixError(400, 'M_BAD_JSON', '"server_keys" must be an object of server names');
    const wanted: Record<string, number | undefined> = {};
    for (const [server, keys] of Object.entries(criteria)) {
      // The latest minimum asked for any of the server's keys is what its answer must satisfy.
      const minimums = isJsonObject(keys)
        ? Object.values(keys).map((k) => (isJsonObject(k) && typeof k['minimum_valid_until_ts'] === 'number' ? k['minimum_valid_until_ts'] : undefined))
        : [];
      const given = minimums.filter((m): m is number => m !== undefined);
      wanted[server] = given.length > 0 ? Math.max(...given) : undefined;
    }
    res.json({ server_keys: await fed.notary.query(wanted) });
  });
  return r;
}

/** Mounted under /_matrix/federation/v1 (beside the OpenID userinfo route). */
export function federationApiRoutes(hs: HomeserverContext, fed: Federation): RouteTable {
  const r = new RouteTable();
  const signed = requireSignedRequest(hs, fed);
  const localUser = (userId: string | undefined): string => {
    if (userId === undefined) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing user_id');
    if (!hs.resolver.isLocal(userId, '@')) throw new MatrixError(400, 'M_INVALID_PARAM', `${userId} is not a user of ${hs.serverName}`);
    return userId;
  };

  r.get('/query/profile', signed, (req, res) => {
    const userId = localUser(query(req, 'user_id'));
    const field = query(req, 'field');
    if (field !== undefined && field !== 'displayname' && field !== 'avatar_url') {
      throw new MatrixError(400, 'M_INVALID_PARAM', 'field must be displayname or avatar_url');
    }
    const profile = hs.accounts.profile(userId);
    if (!profile) throw new MatrixError(404, 'M_NOT_FOUND', 'Profile was not found');
    const out: Record<string, string> = {};
    if (profile.displayname !== null && field !== 'avatar_url') out['displayname'] = profile.displayname;
    if (profile.avatar_url !== null && field !== 'displayname') out['avatar_url'] = profile.avatar_url;
    if (field !== undefined && out[field] === undefined) throw new MatrixError(404, 'M_NOT_FOUND', `The user has no ${field}`);
    res.json(out);
  });

  r.get('/query/directory', signed, async (req, res) => {
    const alias = query(req, 'room_alias');
    if (alias === undefined) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing room_alias');
    if (!hs.resolver.isLocal(alias, '#')) throw new MatrixError(404, 'M_NOT_FOUND', `${alias} is not an alias of ${hs.serverName}`);
    const roomId = await hs.resolver.resolveAlias(alias);
    if (!roomId) throw new MatrixError(404, 'M_NOT_FOUND', `Room alias ${alias} not found`);
    res.json({ room_id: roomId, servers: [hs.serverName] });
  });

  const publicRooms = new PublicRooms(hs.events, hs.directory);
  r.get('/publicRooms', signed, (req, res) => {
    res.json(publicRooms.page(publicRoomsQueryOf(req)));
  });
  r.post('/publicRooms', signed, (req, res) => {
    res.json(publicRooms.page(publicRoomsQueryOfBody(body(req))));
  });

  federationUserRoutes(r, hs, signed, localUser);
  federationMediaRoutes(r, hs, signed);
  federationSpaceRoutes(r, hs, signed);
  return r;
}
