// User-interactive auth sessions for /register (the m.login.dummy flow). Kept in memory: a session only
// has to outlive the few seconds between a client's two register calls.
import { randomToken } from '../ids/MatrixIds.js';

const TTL_MS = 30 * 60_000;

export class UiaSessions {
  private readonly sessions = new Map<string, { created: number; completed: string[] }>();

  create(): string {
    this.expire();
    const id = randomToken(18);
    this.sessions.set(id, { created: Date.now(), completed: [] });
    return id;
  }

  exists(id: string): boolean {
    this.expire();
    return this.sessions.has(id);
  }

  complete(id: string, stage: string): void {
    this.sessions.get(id)?.completed.push(stage);
  }

  completed(id: string): string[] {
    return this.sessions.get(id)?.completed ?? [];
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  private expire(): void {
    const cutoff = Date.now() - TTL_MS;
    for (const [id, s] of this.sessions) if (s.created < cutoff) this.sessions.delete(id);
  }
}
