// A thin fetch wrapper for black-box Client-Server API calls: returns status and parsed body instead of
// throwing, so tests can assert on errors as easily as on successes.
export interface MatrixResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

export interface MatrixRequestOptions {
  /** JSON body (serialised here). */
  body?: unknown;
  /** Sent as-is instead of `body` (for malformed-input tests). */
  rawBody?: string | Uint8Array;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  /** Overrides the client's token for this call; null sends none. */
  accessToken?: string | null;
}

/** A JSON object as the server sends it; tests narrow it with the generic parameter. */
export type JsonObject = Record<string, unknown>;

export class MatrixHttpClient {
  constructor(
    readonly baseUrl: string,
    readonly accessToken: string | null = null,
  ) {}

  /** The same server as another token (e.g. an appservice's as_token). */
  as(accessToken: string | null): MatrixHttpClient {
    return new MatrixHttpClient(this.baseUrl, accessToken);
  }

  /**
   * `path` is absolute when it starts with `/_matrix` or `/.well-known`; otherwise it is relative to
   * `/_matrix/client/v3` (so `'/sync'` means `/_matrix/client/v3/sync`).
   */
  url(path: string, query?: MatrixRequestOptions['query']): string {
    const absolute = path.startsWith('/_matrix') || path.startsWith('/.well-known');
    const url = new URL((absolute ? '' : '/_matrix/client/v3') + path, this.baseUrl);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }

  async request<T = JsonObject>(method: string, path: string, options: MatrixRequestOptions = {}): Promise<MatrixResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.accessToken === undefined ? this.accessToken : options.accessToken;
    if (token !== null && headers.Authorization === undefined) headers.Authorization = `Bearer ${token}`;
    let body: string | Uint8Array | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined && headers['Content-Type'] === undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(this.url(path, options.query), { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : {};
    } catch {
      // Not JSON: tests see the raw text and can assert on that.
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get<T = JsonObject>(path: string, options?: MatrixRequestOptions): Promise<MatrixResponse<T>> {
    return this.request<T>('GET', path, options);
  }
  post<T = JsonObject>(path: string, body?: unknown, options: MatrixRequestOptions = {}): Promise<MatrixResponse<T>> {
    return this.request<T>('POST', path, { ...options, body: body ?? {} });
  }
  put<T = JsonObject>(path: string, body?: unknown, options: MatrixRequestOptions = {}): Promise<MatrixResponse<T>> {
    return this.request<T>('PUT', path, { ...options, body: body ?? {} });
  }
  delete<T = JsonObject>(path: string, options?: MatrixRequestOptions): Promise<MatrixResponse<T>> {
    return this.request<T>('DELETE', path, options);
  }

  /**
   * Like request, but throws (with the server's errcode) unless the status is 2xx: for setup steps. A 429
   * is waited out as real clients do, so setup that sends fast meets the shipped rate limits unchanged.
   */
  async ok<T = JsonObject>(method: string, path: string, options: MatrixRequestOptions = {}): Promise<T> {
    let res = await this.request<T>(method, path, options);
    for (let waits = 0; res.status === 429 && waits < 100; waits++) {
      const retryAfter = (res.body as { retry_after_ms?: unknown }).retry_after_ms;
      await new Promise((resolve) => setTimeout(resolve, typeof retryAfter === 'number' ? retryAfter : 1000));
      res = await this.request<T>(method, path, options);
    }
    if (res.status < 200 || res.status > 299) {
      throw new Error(`${method} ${path} -> ${res.status} ${JSON.stringify(res.body)}`);
    }
    return res.body;
  }
}

/** `encodeURIComponent` for IDs in paths (`!room:hs`, `#alias:hs`, `@user:hs`). */
export const enc = encodeURIComponent;
