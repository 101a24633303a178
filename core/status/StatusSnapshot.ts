import type { HealthReport } from '../host/PipelineHealth.js';
import type { DeadLetter } from '../queue/DeadLetters.js';
import type { RecentError } from './RecentErrors.js';

/** What the status page shows, as GET /_patchbay/status answers it (JSON). */
export interface StatusSnapshot {
  /** Milliseconds since the epoch when it was taken. */
  time: number;
  homeserver: { url: string | null; reachable: boolean; latency_ms: number | null; error?: string };
  /** Redis, queues, partitions and their workers, bridges' connections: what GET /health answers. */
  health: HealthReport;
  dead_letters: { count: number; newest: DeadLetter[] };
  /** This process's last warnings and errors, newest first. */
  recent_errors: RecentError[];
}

const PROBE_TIMEOUT_MS = 3_000;

/** Whether the homeserver answers its Client-Server API (GET /_matrix/client/versions). Never throws. */
export async function probeHomeserver(url: string | null): Promise<StatusSnapshot['homeserver']> {
  if (url === null) return { url, reachable: false, latency_ms: null, error: 'no homeserver URL known to this process' };
  const started = performance.now();
  try {
    const res = await fetch(`${url}/_matrix/client/versions`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.arrayBuffer();
    const latency = Math.round(performance.now() - started);
    if (!res.ok) return { url, reachable: false, latency_ms: latency, error: `it answered ${res.status}` };
    return { url, reachable: true, latency_ms: latency };
  } catch (err: unknown) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
    return { url, reachable: false, latency_ms: null, error: cause };
  }
}
