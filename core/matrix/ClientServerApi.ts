import type { Logger } from 'pino';
import type { MatrixEvent } from '../plugin-api/index.js';
import { MatrixApiError } from '../plugin-api/MatrixApiError.js';
import type { RuntimeMetrics } from '../metrics/RuntimeMetrics.js';

export interface RetryOptions {
  /** Further tries after the first, for transient failures (5xx, lost connections, 429). */
  maxRetries: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** A 429 asking to wait longer than this is thrown to the caller (the outbox retries later). */
  maxRateLimitWaitMs: number;
}

export const DEFAULT_RETRY: RetryOptions = {
  maxRetries: 4,
  initialBackoffMs: 500,
  maxBackoffMs: 30_000,
  maxRateLimitWaitMs: 60_000,
};

export interface ClientServerApiOptions {
  homeserverUrl: string;
  asToken: string;
  logger: Logger;
  metrics?: RuntimeMetrics;
  retry?: Partial<RetryOptions>;
  /** Per try; a hung homeserver becomes a retryable failure instead of a stuck worker. */
  requestTimeoutMs?: number;
  /** Largest media download accepted (bytes). */
  maxDownloadBytes?: number;
}

export interface RequestOptions {
  /** Identity assertion: act as this user of the appservice's namespace (`?user_id=`). */
  userId?: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  bytes?: { data: Uint8Array; contentType: string };
  /**
   * Safe to repeat after a lost response. Defaults to true except for POST; a non-idempotent request is
   * retried only on 429 (the server did not act on it).
   */
  idempotent?: boolean;
}

/** Builds a path with every interpolated value percent-encoded as one path segment. */
export function encodePath(strings: TemplateStringsArray, ...values: string[]): string {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += encodeURIComponent(v) + (strings[i + 1] ?? '');
  });
  return out;
}

const V3 = '/_matrix/client/v3';

/**
 * A small typed Client-Server API client acting with the appservice's as_token. Transient failures are
 * retried a bounded number of times with jittered exponential backoff; 429s wait `retry_after_ms`.
 */
export class ClientServerApi {
  readonly homeserverUrl: string;
  private readonly retry: RetryOptions;
  private readonly timeoutMs: number;
  private readonly maxDownloadBytes: number;

  constructor(private readonly options: ClientServerApiOptions) {
    this.homeserverUrl = options.homeserverUrl.replace(/\/+$/, '');
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.timeoutMs = options.requestTimeoutMs ?? 60_000;
    this.maxDownloadBytes = options.maxDownloadBytes ?? 100 * 1024 * 1024;
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, opts);
    const text = await response.text();
    if (text.length === 0) return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new MatrixApiError(response.status, 'M_NOT_JSON', 'response body is not JSON', method, path);
    }
  }

  /** A request whose successful response is bytes (media downloads). */
  async requestBytes(method: string, path: string, opts: RequestOptions = {}): Promise<{ bytes: Uint8Array; headers: Headers }> {
    const response = await this.send(method, path, opts);
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > this.maxDownloadBytes) {
      await response.body?.cancel();
      throw new MatrixApiError(413, 'M_TOO_LARGE', `media is ${declared} bytes; the limit is ${this.maxDownloadBytes}`, method, path);
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.byteLength > this.maxDownloadBytes) {
      throw new MatrixApiError(413, 'M_TOO_LARGE', `media exceeds ${this.maxDownloadBytes} bytes`, method, path);
    }
    return { bytes, headers: response.headers };
  }

  private async send(method: string, path: string, opts: RequestOptions): Promise<Response> {
    const url = new URL(this.homeserverUrl + path);
    if (opts.userId !== undefined) url.searchParams.set('user_id', opts.userId);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const idempotent = opts.idempotent ?? method !== 'POST';
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.asToken}` };
    let body: Uint8Array | string | undefined;
    if (opts.bytes) {
      headers['content-type'] = opts.bytes.contentType;
      body = opts.bytes.data;
    } else if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }

    for (let attempt = 0; ; attempt++) {
      let failure: MatrixApiError;
      try {
        const response = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
        if (response.ok) {
          this.options.metrics?.matrixRequests.inc({ method, outcome: 'ok' });
          return response;
        }
        failure = await errorFrom(response, method, path);
      } catch (err) {
        failure = new MatrixApiError(0, 'M_CONNECTION_FAILED', describe(err), method, path);
      }
      this.options.metrics?.matrixRequests.inc({ method, outcome: failure.errcode });
      const waitMs = this.retryDelay(failure, attempt, idempotent);
      if (waitMs === null) throw failure;
      this.options.metrics?.matrixRetries.inc({
        reason: failure.status === 429 ? 'rate_limited' : failure.status === 0 ? 'connection' : 'server_error',
      });
      this.options.logger.debug({ method, path, status: failure.status, errcode: failure.errcode, waitMs, attempt }, 'retrying Matrix request');
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }

  /** How long to wait before the next try, or null to give up now. */
  private retryDelay(failure: MatrixApiError, attempt: number, idempotent: boolean): number | null {
    if (attempt >= this.retry.maxRetries || !failure.transient) return null;
    if (failure.status === 429) {
      const wait = failure.retryAfterMs ?? this.backoff(attempt);
      return wait <= this.retry.maxRateLimitWaitMs ? wait : null;
    }
    if (!idempotent) return null;
    return this.backoff(attempt);
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.retry.maxBackoffMs, this.retry.initialBackoffMs * 2 ** attempt);
    return Math.round(base / 2 + (Math.random() * base) / 2);
  }

  // ---- Endpoints the runtime uses -----------------------------------------------------------------

  /** Registers a user of the namespace; M_USER_IN_USE is success (it already exists). */
  async registerAppserviceUser(localpart: string): Promise<void> {
    try {
      await this.request('POST', `${V3}/register`, {
        body: { type: 'm.login.application_service', username: localpart, inhibit_login: true },
        idempotent: true,
      });
    } catch (err) {
      if (!MatrixApiError.is(err, 'M_USER_IN_USE')) throw err;
    }
  }

  async joinedRooms(userId: string): Promise<string[]> {
    const res = await this.request<{ joined_rooms?: unknown }>('GET', `${V3}/joined_rooms`, { userId });
    return Array.isArray(res.joined_rooms) ? res.joined_rooms.filter((r): r is string => typeof r === 'string') : [];
  }

  async join(userId: string, roomIdOrAlias: string, via: string[] = []): Promise<string> {
    const query = via.length ? `?${via.map((s) => `via=${encodeURIComponent(s)}`).join('&')}` : '';
    const res = await this.request<{ room_id?: unknown }>('POST', V3 + encodePath`/join/${roomIdOrAlias}` + query, {
      userId,
      body: {},
      idempotent: true,
    });
    if (typeof res.room_id !== 'string') throw new MatrixApiError(200, 'M_BAD_RESPONSE', 'join returned no room_id', 'POST', '/join');
    return res.room_id;
  }

  async leave(userId: string, roomId: string, reason?: string): Promise<void> {
    await this.request('POST', V3 + encodePath`/rooms/${roomId}/leave`, { userId, body: reason ? { reason } : {}, idempotent: true });
  }

  async invite(userId: string, roomId: string, invitee: string): Promise<void> {
    await this.request('POST', V3 + encodePath`/rooms/${roomId}/invite`, { userId, body: { user_id: invitee }, idempotent: true });
  }

  async kick(userId: string, roomId: string, target: string, reason?: string): Promise<void> {
    await this.request('POST', V3 + encodePath`/rooms/${roomId}/kick`, {
      userId,
      body: reason ? { user_id: target, reason } : { user_id: target },
      idempotent: true,
    });
  }

  async sendEvent(userId: string, roomId: string, type: string, txnId: string, content: Record<string, unknown>, ts?: number): Promise<string> {
    return this.putEvent(userId, V3 + encodePath`/rooms/${roomId}/send/${type}/${txnId}`, content, ts, 'send');
  }

  async sendState(userId: string, roomId: string, type: string, stateKey: string, content: Record<string, unknown>, ts?: number): Promise<string> {
    return this.putEvent(userId, V3 + encodePath`/rooms/${roomId}/state/${type}/${stateKey}`, content, ts, 'state');
  }

  /** PUTs an event's content (the AS `ts` as the timestamp, when given); resolves with its event id. */
  private async putEvent(userId: string, path: string, content: Record<string, unknown>, ts: number | undefined, what: string): Promise<string> {
    const res = await this.request<{ event_id?: unknown }>('PUT', path, { userId, body: content, query: { ts } });
    return eventIdOf(res, what);
  }

  /** A state event's content, or null when the room has none of that type and key. */
  async getState(userId: string, roomId: string, type: string, stateKey: string): Promise<Record<string, unknown> | null> {
    try {
      return await this.request<Record<string, unknown>>('GET', V3 + encodePath`/rooms/${roomId}/state/${type}/${stateKey}`, { userId });
    } catch (err) {
      if (MatrixApiError.is(err, 'M_NOT_FOUND')) return null;
      throw err;
    }
  }

  /**
   * One room event as `userId` may see it, or null when the homeserver answers M_NOT_FOUND (unknown, or
   * not visible to that user). A response that is no event is a MatrixApiError, not a half-filled object.
   */
  async getEvent(userId: string, roomId: string, eventId: string): Promise<MatrixEvent | null> {
    let res: Record<string, unknown>;
    try {
      res = await this.request<Record<string, unknown>>('GET', V3 + encodePath`/rooms/${roomId}/event/${eventId}`, { userId });
    } catch (err) {
      if (MatrixApiError.is(err, 'M_NOT_FOUND')) return null;
      throw err;
    }
    const content = res.content;
    if (
      typeof res.event_id !== 'string' ||
      typeof res.type !== 'string' ||
      typeof res.sender !== 'string' ||
      typeof content !== 'object' ||
      content === null ||
      Array.isArray(content)
    ) {
      throw new MatrixApiError(200, 'M_BAD_RESPONSE', 'the event response is not an event', 'GET', '/event');
    }
    return {
      event_id: res.event_id,
      room_id: typeof res.room_id === 'string' ? res.room_id : roomId,
      sender: res.sender,
      type: res.type,
      content: content as Record<string, unknown>,
      origin_server_ts: typeof res.origin_server_ts === 'number' ? res.origin_server_ts : 0,
      ...(typeof res.state_key === 'string' ? { state_key: res.state_key } : {}),
      ...(typeof res.unsigned === 'object' && res.unsigned !== null && !Array.isArray(res.unsigned) ? { unsigned: res.unsigned as Record<string, unknown> } : {}),
      ...(typeof res.redacts === 'string' ? { redacts: res.redacts } : {}),
    };
  }

  async createRoom(userId: string, options: Record<string, unknown>): Promise<string> {
    const res = await this.request<{ room_id?: unknown }>('POST', `${V3}/createRoom`, { userId, body: options });
    if (typeof res.room_id !== 'string') throw new MatrixApiError(200, 'M_BAD_RESPONSE', 'createRoom returned no room_id', 'POST', '/createRoom');
    return res.room_id;
  }

  async redact(userId: string, roomId: string, eventId: string, txnId: string, reason?: string): Promise<string> {
    const res = await this.request<{ event_id?: unknown }>('PUT', V3 + encodePath`/rooms/${roomId}/redact/${eventId}/${txnId}`, {
      userId,
      body: reason ? { reason } : {},
    });
    return eventIdOf(res, 'redact');
  }

  async setTyping(userId: string, roomId: string, typing: boolean, timeoutMs?: number): Promise<void> {
    await this.request('PUT', V3 + encodePath`/rooms/${roomId}/typing/${userId}`, {
      userId,
      body: typing ? { typing, timeout: timeoutMs ?? 30_000 } : { typing },
    });
  }

  async setPresence(userId: string, presence: 'online' | 'unavailable' | 'offline', statusMsg?: string): Promise<void> {
    await this.request('PUT', V3 + encodePath`/presence/${userId}/status`, {
      userId,
      body: statusMsg === undefined ? { presence } : { presence, status_msg: statusMsg },
    });
  }

  async joinedMembers(userId: string, roomId: string): Promise<Record<string, { display_name?: string; avatar_url?: string }>> {
    const res = await this.request<{ joined?: unknown }>('GET', V3 + encodePath`/rooms/${roomId}/joined_members`, { userId });
    const joined = res.joined;
    if (typeof joined !== 'object' || joined === null) return {};
    const out: Record<string, { display_name?: string; avatar_url?: string }> = {};
    for (const [member, info] of Object.entries(joined as Record<string, unknown>)) {
      const i = (typeof info === 'object' && info !== null ? info : {}) as Record<string, unknown>;
      out[member] = {
        ...(typeof i.display_name === 'string' ? { display_name: i.display_name } : {}),
        ...(typeof i.avatar_url === 'string' ? { avatar_url: i.avatar_url } : {}),
      };
    }
    return out;
  }

  /** A user's global profile; fields the server does not have are absent. 404 gives an empty profile. */
  async getProfile(userId: string, asUser?: string): Promise<{ displayname?: string; avatar_url?: string }> {
    try {
      const res = await this.request<Record<string, unknown>>('GET', V3 + encodePath`/profile/${userId}`, { userId: asUser });
      return {
        ...(typeof res.displayname === 'string' ? { displayname: res.displayname } : {}),
        ...(typeof res.avatar_url === 'string' ? { avatar_url: res.avatar_url } : {}),
      };
    } catch (err) {
      if (MatrixApiError.is(err, 'M_NOT_FOUND')) return {};
      throw err;
    }
  }

  async setDisplayName(userId: string, displayname: string): Promise<void> {
    await this.request('PUT', V3 + encodePath`/profile/${userId}/displayname`, { userId, body: { displayname } });
  }

  async setAvatarUrl(userId: string, avatarUrl: string): Promise<void> {
    await this.request('PUT', V3 + encodePath`/profile/${userId}/avatar_url`, { userId, body: { avatar_url: avatarUrl } });
  }

  async createAlias(userId: string, alias: string, roomId: string): Promise<void> {
    await this.request('PUT', V3 + encodePath`/directory/room/${alias}`, { userId, body: { room_id: roomId } });
  }

  /** The room an alias points at, or null when it points nowhere. */
  async resolveAlias(alias: string, asUser?: string): Promise<string | null> {
    try {
      const res = await this.request<{ room_id?: unknown }>('GET', V3 + encodePath`/directory/room/${alias}`, { userId: asUser });
      return typeof res.room_id === 'string' ? res.room_id : null;
    } catch (err) {
      if (MatrixApiError.is(err, 'M_NOT_FOUND')) return null;
      throw err;
    }
  }

  async upload(userId: string, bytes: Uint8Array, mimetype: string, filename: string): Promise<string> {
    const res = await this.request<{ content_uri?: unknown }>('POST', '/_matrix/media/v3/upload', {
      userId,
      query: { filename },
      bytes: { data: bytes, contentType: mimetype || 'application/octet-stream' },
    });
    if (typeof res.content_uri !== 'string') throw new MatrixApiError(200, 'M_BAD_RESPONSE', 'upload returned no content_uri', 'POST', '/upload');
    return res.content_uri;
  }

  /**
   * Downloads `mxc://server/id`: the authenticated v1 endpoint first, the legacy media endpoint where a
   * homeserver does not have it (older Synapse, Conduit).
   */
  async download(userId: string, mxcUri: string): Promise<{ bytes: Uint8Array; mimetype: string; filename: string }> {
    const match = /^mxc:\/\/([^/]+)\/([^/?#]+)$/.exec(mxcUri);
    if (!match) throw new MatrixApiError(400, 'M_INVALID_PARAM', `not an mxc URI: ${mxcUri}`, 'GET', '/download');
    const [, server, mediaId] = match as unknown as [string, string, string];
    let result: { bytes: Uint8Array; headers: Headers };
    try {
      result = await this.requestBytes('GET', encodePath`/_matrix/client/v1/media/download/${server}/${mediaId}`, { userId });
    } catch (err) {
      if (!(err instanceof MatrixApiError) || !(err.errcode === 'M_UNRECOGNIZED' || err.status === 405 || (err.status === 404 && err.errcode !== 'M_NOT_FOUND'))) throw err;
      result = await this.requestBytes('GET', encodePath`/_matrix/media/v3/download/${server}/${mediaId}`, { userId });
    }
    return {
      bytes: result.bytes,
      mimetype: result.headers.get('content-type') ?? 'application/octet-stream',
      filename: filenameFrom(result.headers.get('content-disposition')) ?? mediaId,
    };
  }
}

async function errorFrom(response: Response, method: string, path: string): Promise<MatrixApiError> {
  let errcode = `HTTP_${response.status}`;
  let message = response.statusText;
  let retryAfterMs: number | undefined;
  try {
    const body = (await response.json()) as Record<string, unknown>;
    if (typeof body.errcode === 'string') errcode = body.errcode;
    if (typeof body.error === 'string') message = body.error;
    if (typeof body.retry_after_ms === 'number' && body.retry_after_ms >= 0) retryAfterMs = body.retry_after_ms;
  } catch {
    // A non-JSON error body (a proxy's HTML page): the status says enough.
  }
  const header = response.headers.get('retry-after');
  if (retryAfterMs === undefined && header !== null && /^\d+$/.test(header)) retryAfterMs = Number(header) * 1000;
  return new MatrixApiError(response.status, errcode, message, method, path, retryAfterMs);
}

function eventIdOf(res: { event_id?: unknown }, what: string): string {
  if (typeof res.event_id !== 'string') throw new MatrixApiError(200, 'M_BAD_RESPONSE', `${what} returned no event_id`, 'PUT', what);
  return res.event_id;
}

function filenameFrom(disposition: string | null): string | undefined {
  if (!disposition) return undefined;
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(disposition);
  if (star?.[1]) {
    try {
      return decodeURIComponent(star[1]);
    } catch {
      return star[1];
    }
  }
  return /filename\s*=\s*"?([^";]+)"?/.exec(disposition)?.[1];
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
  }
  return String(err);
}
