// OpenID (widgets, integration managers): a user asks for a token, a third party exchanges it for the
// user ID at the federation path /_matrix/federation/v1/openid/userinfo, which is all of the federation
// API this server serves.
import { MatrixError } from '../MatrixError.js';
import type { HomeserverContext } from '../HomeserverContext.js';
import { param, query, requesterOf } from '../http/RequestReader.js';
import { RouteTable } from '../http/RouteTable.js';

export function openidRoutes(r: RouteTable, hs: HomeserverContext): void {
  r.post('/user/:userId/openid/request_token', hs.auth.required, (req, res) => {
    const me = requesterOf(res);
    if (param(req, 'userId') !== me.userId) throw new MatrixError(403, 'M_FORBIDDEN', 'Cannot request OpenID tokens for other users');
    const { token, expiresInSeconds } = hs.openid.issue(me.userId);
    res.json({ access_token: token, token_type: 'Bearer', matrix_server_name: hs.serverName, expires_in: expiresInSeconds });
  });
}

/** Mounted under /_matrix/federation/v1. */
export function openidUserinfoRoutes(hs: HomeserverContext): RouteTable {
  const r = new RouteTable();
  r.get('/openid/userinfo', (req, res) => {
    const token = query(req, 'access_token');
    if (token === undefined) throw new MatrixError(401, 'M_MISSING_TOKEN', 'Missing access_token');
    const userId = hs.openid.userFor(token);
    if (userId === null) throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Access token unknown or expired');
    res.json({ sub: userId });
  });
  return r;
}
