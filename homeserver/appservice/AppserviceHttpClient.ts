// Requests from the homeserver to an appservice, authenticated with its hs_token. Each call names the
// spec's v1 path and the legacy one: when the preferred path answers "no such endpoint" the other is
// tried, and an appservice that only speaks legacy is remembered as such for a while (then v1 is tried
// again, as the spec asks homeservers to do periodically).
import type { Appservice } from './Appservice.js';

export type AppserviceResponse =
  | { kind: 'response'; status: number; text: string; json: unknown }
  | { kind: 'timeout' }
  | { kind: 'connection_failed'; message: string }
  /** Cancelled by the caller (shutdown). */
  | { kind: 'aborted' };

export interface AppserviceRequest {
  method: 'GET' | 'PUT' | 'POST';
  /** Path under `/_matrix/app/v1` (already encoded), e.g. `/transactions/1`. */
  v1Path: string;
  /** The pre-v1 path (already encoded), e.g. `/transactions/1` or `/_matrix/app/unstable/thirdparty/...`; null: none. */
  legacyPath: string | null;
  /** Raw query string without `?`, forwarded as is. */
  query?: string;
  body?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** How long an appservice that only answered on legacy paths is addressed there first. */
const LEGACY_MEMORY_MS = 10 * 60_000;

export class AppserviceHttpClient {
  /** `<appservice id>\n<route family>` → until when legacy paths are tried first. */
  private readonly legacyUntil = new Map<string, number>();

  async request(appservice: Appservice, family: string, req: AppserviceRequest): Promise<AppserviceResponse> {
    if (appservice.url === null) return { kind: 'connection_failed', message: 'appservice has no url' };
    const memoryKey = `${appservice.id}\n${family}`;
    const legacyFirst = (this.legacyUntil.get(memoryKey) ?? 0) > Date.now();
    const v1 = `/_matrix/app/v1${req.v1Path}`;
    const paths = req.legacyPath === null ? [v1] : legacyFirst ? [req.legacyPath, v1] : [v1, req.legacyPath];
    let result: AppserviceResponse = { kind: 'aborted' };
    for (const [i, path] of paths.entries()) {
      result = await this.once(appservice.url, appservice.hsToken, path, req);
      if (!isUnknownEndpoint(result)) {
        if (i > 0 && result.kind === 'response') {
          // The fallback path answered: remember which one this appservice speaks.
          if (path === req.legacyPath) this.legacyUntil.set(memoryKey, Date.now() + LEGACY_MEMORY_MS);
          else this.legacyUntil.delete(memoryKey);
        }
        return result;
      }
    }
    return result;
  }

  private async once(baseUrl: string, hsToken: string, path: string, req: AppserviceRequest): Promise<AppserviceResponse> {
    const url = `${baseUrl}${path}${req.query ? `?${req.query}` : ''}`;
    const timeout = AbortSignal.timeout(req.timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    try {
      const headers: Record<string, string> = { authorization: `Bearer ${hsToken}` };
      if (req.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(url, { method: req.method, headers, body: req.body, signal });
      const text = await res.text();
      return { kind: 'response', status: res.status, text, json: parseJson(text) };
    } catch (err) {
      if (req.signal?.aborted) return { kind: 'aborted' };
      if (timeout.aborted) return { kind: 'timeout' };
      return { kind: 'connection_failed', message: describe(err) };
    }
  }
}

/** As Synapse decides it: 404/405 without a JSON errcode or with M_UNRECOGNIZED, or 501. */
export function isUnknownEndpoint(result: AppserviceResponse): boolean {
  if (result.kind !== 'response') return false;
  if (result.status === 501) return true;
  if (result.status !== 404 && result.status !== 405) return false;
  const errcode = isRecord(result.json) ? result.json['errcode'] : undefined;
  return errcode === undefined || errcode === 'M_UNRECOGNIZED';
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
  }
  return String(err);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
