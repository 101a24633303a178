// User-interactive auth with the account's password (m.login.password), for the operations the spec
// guards with it: deleting devices and replacing cross-signing keys. Appservices are exempt (spec v1.17).
// The first call without `auth` gets 401 with the flow and a session; the retry carries the password and
// that session. Wrong passwords count against the account like failed logins, so UIA is no way around
// the login rate limit.
import type { Request, Response } from 'express';
import type { Requester } from '../contracts.js';
import { MatrixError } from '../MatrixError.js';
import { body, isJsonObject } from '../http/RequestReader.js';
import type { RateLimits } from '../limits/RateLimits.js';
import type { AccountStore } from './AccountStore.js';
import { verifyPassword } from './PasswordHasher.js';
import type { UiaSessions } from './UiaSessions.js';

const FLOWS = [{ stages: ['m.login.password'] }];

export class UserInteractiveAuth {
  constructor(
    private readonly sessions: UiaSessions,
    private readonly accounts: AccountStore,
    private readonly limits: RateLimits,
    private readonly serverName: string,
  ) {}

  /**
   * True when the request proved the password (or needs no proof); otherwise it has answered 401 with
   * what to do next and returns false. `operation` names what is being authorised (e.g. "delete_devices").
   */
  async check(req: Request, res: Response, me: Requester, operation: string): Promise<boolean> {
    if (me.appserviceId) return true;
    const binding = `${me.userId} ${operation}`;
    const auth = body(req).optObject('auth');
    const session = auth?.['session'];
    if (session !== undefined && (typeof session !== 'string' || !this.sessions.exists(session, binding))) {
      throw new MatrixError(400, 'M_UNKNOWN', 'Unknown UIA session');
    }
    const sessionId = typeof session === 'string' ? session : this.sessions.create(binding);
    const challenge = { flows: FLOWS, params: {}, session: sessionId };
    if (!auth || auth['type'] === undefined) {
      res.status(401).json(challenge);
      return false;
    }
    if (auth['type'] !== 'm.login.password') {
      res.status(401).json({ ...challenge, errcode: 'M_UNRECOGNIZED', error: `Unsupported auth type ${JSON.stringify(auth['type'])}` });
      return false;
    }
    this.limits.check('failed_login_per_account', me.userId);
    const hash = this.accounts.passwordHash(me.userId);
    const password = auth['password'];
    if (this.claimedUser(auth) !== me.userId || typeof password !== 'string' || !hash || !(await verifyPassword(password, hash))) {
      this.limits.spend('failed_login_per_account', me.userId);
      res.status(401).json({ ...challenge, errcode: 'M_FORBIDDEN', error: 'Invalid password' });
      return false;
    }
    this.sessions.delete(sessionId);
    return true;
  }

  /** The user named by `identifier.user` (or the legacy top-level `user`), as a full user ID. */
  private claimedUser(auth: Record<string, unknown>): unknown {
    const identifier = isJsonObject(auth['identifier']) ? auth['identifier'] : {};
    const user = identifier['user'] ?? auth['user'];
    return typeof user === 'string' && !user.startsWith('@') ? `@${user.toLowerCase()}:${this.serverName}` : user;
  }
}
