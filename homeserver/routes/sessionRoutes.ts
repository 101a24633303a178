// Login, registration, logout and whoami (devices: deviceRoutes.ts).
import type { Request } from 'express';
import { MatrixError } from '../MatrixError.js';
import type { HomeserverContext } from '../HomeserverContext.js';
import { hashPassword, verifyPassword } from '../accounts/PasswordHasher.js';
import { accessTokenOf } from '../http/AccessTokenAuth.js';
import { body, query, requesterOf, type Body } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';
import { checkNewLocalpart, parseId, randomLetters } from '../ids/MatrixIds.js';
import { clientAddressOf, clientIpOf } from '../limits/RateLimits.js';
import type { Requester } from '../contracts.js';

export function sessionRoutes(r: RouteTable, hs: HomeserverContext): void {
  const { accounts, serverName } = hs;
  const gateway = hs.appservice;

  /** The appservice behind the request's token, for the m.login.application_service flows. */
  const appserviceRequester = (req: Request): Requester => {
    const token = accessTokenOf(req);
    if (token === null) throw new MatrixError(401, 'M_MISSING_TOKEN', 'Missing access token');
    const as = gateway.authenticate(token, undefined, undefined);
    if (!as || !as.appserviceId) throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Unknown access token', { soft_logout: false });
    return as;
  };

  const loginResponse = (req: Request, userId: string, deviceId: string | null, displayName: string | null): Record<string, unknown> => {
    const s = accounts.createSession(userId, deviceId, displayName);
    hs.deviceActivity.seen(s.userId, s.deviceId, clientIpOf(req));
    return {
      user_id: s.userId,
      access_token: s.accessToken,
      device_id: s.deviceId,
      home_server: serverName,
      well_known: { 'm.homeserver': { base_url: hs.baseUrl() } },
    };
  };

  /** `user` from an m.id.user identifier (or the legacy top-level `user`), as a full user ID. */
  const loginUserId = (b: Body): string => {
    const identifier = b.optObject('identifier');
    let user: unknown;
    if (identifier) {
      if (identifier['type'] !== 'm.id.user') {
        throw new MatrixError(400, 'M_UNKNOWN', `Unsupported identifier type ${JSON.stringify(identifier['type'])}`);
      }
      user = identifier['user'];
    } else {
      user = b.raw['user'];
    }
    if (typeof user !== 'string' || user.length === 0) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing identifier.user');
    if (user.startsWith('@')) {
      const parsed = parseId(user, '@');
      if (!parsed) throw new MatrixError(400, 'M_INVALID_USERNAME', `Invalid user ID ${JSON.stringify(user)}`);
      return `@${parsed.localpart.toLowerCase()}:${parsed.server}`;
    }
    return `@${user.toLowerCase()}:${serverName}`;
  };

  r.get('/login', (_req, res) => {
    res.json({ flows: [{ type: 'm.login.password' }, { type: 'm.login.application_service' }] });
  });

  r.post('/login', async (req, res) => {
    const b = body(req);
    const type = b.string('type');
    const deviceId = b.optString('device_id') ?? null;
    const displayName = b.optString('initial_device_display_name') ?? null;
    if (type === 'm.login.password') {
      hs.limits.take('login_per_ip', clientAddressOf(req));
      const userId = loginUserId(b);
      const password = b.string('password');
      // Wrong passwords count against the account, from whichever address they come.
      hs.limits.check('failed_login_per_account', userId);
      const hash = accounts.passwordHash(userId);
      if (!hash || !(await verifyPassword(password, hash))) {
        hs.limits.spend('failed_login_per_account', userId);
        throw new MatrixError(403, 'M_FORBIDDEN', 'Invalid username or password');
      }
      res.json(loginResponse(req, userId, deviceId, displayName));
      return;
    }
    if (type === 'm.login.application_service') {
      const as = appserviceRequester(req);
      const userId = loginUserId(b);
      if (gateway.appserviceForUser(userId)?.id !== as.appserviceId) {
        throw new MatrixError(403, 'M_EXCLUSIVE', `${userId} is not in this application service's namespace`);
      }
      if (!accounts.exists(userId)) throw new MatrixError(403, 'M_FORBIDDEN', `${userId} is not registered`);
      res.json(loginResponse(req, userId, deviceId, displayName));
      return;
    }
    throw new MatrixError(400, 'M_UNKNOWN', `Bad login type ${JSON.stringify(type)}`);
  });

  const dummyFlows = (session: string): Record<string, unknown> => ({
    flows: [{ stages: ['m.login.dummy'] }],
    params: {},
    session,
  });

  const checkLocalUsername = (username: string, exceptAppservice: string | null): string => {
    const userId = checkNewLocalpart(username, serverName);
    if (gateway.isExclusiveUser(userId, exceptAppservice)) {
      throw new MatrixError(400, 'M_EXCLUSIVE', 'This user ID is reserved by an application service');
    }
    if (accounts.exists(userId)) throw new MatrixError(400, 'M_USER_IN_USE', 'User ID already taken');
    return userId;
  };

  r.post('/register', async (req, res) => {
    const kind = query(req, 'kind') ?? 'user';
    if (kind === 'guest') throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest access is not supported');
    if (kind !== 'user') throw new MatrixError(400, 'M_INVALID_PARAM', `Unknown kind ${JSON.stringify(kind)}`);
    const b = body(req);
    const inhibitLogin = b.optBool('inhibit_login') ?? false;
    const deviceId = b.optString('device_id') ?? null;
    const displayName = b.optString('initial_device_display_name') ?? null;

    if (b.raw['type'] === 'm.login.application_service') {
      const as = appserviceRequester(req);
      const userId = checkNewLocalpart(b.string('username'), serverName);
      if (gateway.appserviceForUser(userId)?.id !== as.appserviceId) {
        throw new MatrixError(400, 'M_EXCLUSIVE', `${userId} is not in this application service's namespace`);
      }
      if (!accounts.createUser(userId, null, as.appserviceId)) throw new MatrixError(400, 'M_USER_IN_USE', 'User ID already taken');
      res.json(inhibitLogin ? { user_id: userId, home_server: serverName } : loginResponse(req, userId, deviceId, displayName));
      return;
    }

    if (!hs.options.registrationEnabled) throw new MatrixError(403, 'M_FORBIDDEN', 'Registration has been disabled');
    // Checked first (so a client that must wait learns it before the UIA round trip), spent on success.
    const address = clientAddressOf(req);
    hs.limits.check('registration_per_ip', address);
    const username = b.optString('username');
    const password = b.optString('password');
    let userId = username !== undefined ? checkLocalUsername(username.toLowerCase(), null) : null;

    const auth = b.optObject('auth');
    const session = auth?.['session'];
    if (session !== undefined && (typeof session !== 'string' || !hs.uia.exists(session))) {
      throw new MatrixError(400, 'M_UNKNOWN', 'Unknown UIA session');
    }
    if (!auth || auth['type'] === undefined) {
      res.status(401).json(dummyFlows(typeof session === 'string' ? session : hs.uia.create()));
      return;
    }
    if (auth['type'] !== 'm.login.dummy') {
      res.status(401).json({
        ...dummyFlows(typeof session === 'string' ? session : hs.uia.create()),
        errcode: 'M_UNRECOGNIZED',
        error: `Unsupported auth type ${JSON.stringify(auth['type'])}`,
      });
      return;
    }
    const hash = password !== undefined ? await hashPassword(password) : null;
    hs.limits.take('registration_per_ip', address);
    if (userId === null) {
      do userId = `@${randomLetters(10).toLowerCase()}:${serverName}`;
      while (accounts.exists(userId));
    }
    if (!accounts.createUser(userId, hash, null)) throw new MatrixError(400, 'M_USER_IN_USE', 'User ID already taken');
    if (typeof session === 'string') hs.uia.delete(session);
    hs.logger.info({ user_id: userId }, 'registered user');
    res.json(inhibitLogin ? { user_id: userId, home_server: serverName } : loginResponse(req, userId, deviceId, displayName));
  });

  r.get('/register/available', (req, res) => {
    const username = query(req, 'username');
    if (username === undefined) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing username');
    checkLocalUsername(username, null);
    res.json({ available: true });
  });

  r.get('/account/whoami', hs.auth.required, (_req, res) => {
    const me = requesterOf(res);
    const out: Record<string, unknown> = { user_id: me.userId, is_guest: false };
    if (me.deviceId) out['device_id'] = me.deviceId;
    res.json(out);
  });

  r.post('/logout', hs.auth.required, (_req, res) => {
    const me = requesterOf(res);
    if (!me.appserviceId) hs.deviceDeletion.logout(me.accessToken);
    res.json({});
  });

  r.post('/logout/all', hs.auth.required, (_req, res) => {
    const me = requesterOf(res);
    hs.deviceDeletion.logoutAll(me.userId);
    res.json({});
  });
}
