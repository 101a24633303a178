// User-interactive auth sessions: for /register (the m.login.dummy flow) and for the operations that ask
// for the user's password (deleting devices, replacing cross-signing keys). Kept in memory: a session only
// has to outlive the few seconds between a client's two calls. A session started for one user and
// operation cannot complete another (the spec: the server binds the session to the request).
import { randomToken } from '../ids/MatrixIds.js';

const TTL_MS = 30 * 60_000;

interface UiaSession {
  created: number;
  /** `<user ID> <operation>`, or '' for registration (no user yet). */
  binding: string;
}

export class UiaSessions {
  private readonly sessions = new Map<string, UiaSession>();

  create(binding = ''): string {
    this.expire();
    const id = randomToken(18);
    this.sessions.set(id, { created: Date.now(), binding });
    return id;
  }

  exists(id: string, binding = ''): boolean {
    this.expire();
    return this.sessions.get(id)?.binding === binding;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  private expire(): void {
    const cutoff = Date.now() - TTL_MS;
    for (const [id, s] of this.sessions) if (s.created < cutoff) this.sessions.delete(id);
  }
}
