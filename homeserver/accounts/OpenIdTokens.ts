// OpenID tokens: short-lived proofs of a user's identity for widgets and integrations, good only for
// /_matrix/federation/v1/openid/userinfo (never as access tokens). Kept in the database, so a restart
// does not sign widgets out; expired ones are deleted as new ones are issued.
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import { randomToken } from '../ids/MatrixIds.js';

/** How long a token is good for (what Synapse uses too). */
export const OPENID_TOKEN_TTL_SECONDS = 3600;

export class OpenIdTokens {
  private readonly s;

  constructor(
    db: SqlDatabase,
    private readonly clock: () => number = Date.now,
  ) {
    this.s = {
      insert: db.prepare('INSERT INTO openid_tokens (token, user_id, expires_ts) VALUES (?, ?, ?)'),
      get: db.prepare('SELECT user_id FROM openid_tokens WHERE token = ? AND expires_ts > ?'),
      prune: db.prepare('DELETE FROM openid_tokens WHERE expires_ts <= ?'),
    };
  }

  issue(userId: string): { token: string; expiresInSeconds: number } {
    const now = this.clock();
    this.s.prune.run(now);
    const token = randomToken(24);
    this.s.insert.run(token, userId, now + OPENID_TOKEN_TTL_SECONDS * 1000);
    return { token, expiresInSeconds: OPENID_TOKEN_TTL_SECONDS };
  }

  /** The user who was issued this token, or null when it is unknown or expired. */
  userFor(token: string): string | null {
    const row = this.s.get.get(token, this.clock()) as { user_id: string } | undefined;
    return row?.user_id ?? null;
  }
}
