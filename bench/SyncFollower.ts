// A client's /sync long-poll loop, reduced to what the latency benchmark needs: when each message
// (identified by its body) first reached the client.
import type { MatrixHttpClient } from '../testkit/MatrixHttpClient.js';

interface SyncBody {
  next_batch: string;
  rooms?: { join?: Record<string, { timeline?: { events?: Array<{ type: string; content?: { body?: unknown } }> } }> };
}

export class SyncFollower {
  private readonly arrived = new Map<string, number>();
  private readonly waiters = new Map<string, (at: number) => void>();
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private since = '';

  constructor(
    private readonly http: MatrixHttpClient,
    private readonly roomId: string,
    private readonly timeoutMs = 30_000,
  ) {}

  /** Does an initial sync (so only new events count) and starts long-polling. */
  async start(): Promise<void> {
    const initial = await this.http.ok<SyncBody>('GET', '/sync', { query: { timeout: 0 } });
    this.since = initial.next_batch;
    this.loop = this.poll();
  }

  /** Resolves with the performance.now() at which a message with this body arrived through /sync. */
  arrival(body: string): Promise<number> {
    const at = this.arrived.get(body);
    if (at !== undefined) return Promise.resolve(at);
    return new Promise((resolve) => this.waiters.set(body, resolve));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop?.catch(() => undefined);
  }

  private async poll(): Promise<void> {
    while (!this.abort.signal.aborted) {
      const url = this.http.url('/sync', { since: this.since, timeout: this.timeoutMs });
      const res = await fetch(url, { headers: { Authorization: `Bearer ${this.http.accessToken ?? ''}` }, signal: this.abort.signal });
      const now = performance.now();
      if (res.status !== 200) throw new Error(`/sync -> ${res.status} ${await res.text()}`);
      const body = (await res.json()) as SyncBody;
      this.since = body.next_batch;
      for (const event of body.rooms?.join?.[this.roomId]?.timeline?.events ?? []) {
        const text = event.content?.body;
        if (event.type !== 'm.room.message' || typeof text !== 'string' || this.arrived.has(text)) continue;
        this.arrived.set(text, now);
        this.waiters.get(text)?.(now);
        this.waiters.delete(text);
      }
    }
  }
}
