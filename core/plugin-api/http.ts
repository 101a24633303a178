export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A request to one of the bridge's routes, as the host read it. */
export interface HttpRequest {
  readonly method: HttpMethod;
  /** The path below the mount point (`/inbound/voice`), without the query string. */
  readonly path: string;
  /** Values of the route's `:name` segments. */
  readonly params: Readonly<Record<string, string>>;
  /** The query string; the first value of a repeated key. */
  readonly query: Readonly<Record<string, string>>;
  /** Header names in lower case; the first value of a repeated header. */
  readonly headers: Readonly<Record<string, string>>;
  /** The raw body (what a carrier's signature is computed over). Empty without a body. */
  readonly body: Uint8Array;
  /** The address the request came from. */
  readonly remoteAddress: string;
  /** The body as UTF-8 text. */
  text(): string;
  /** The body parsed as JSON; a body that is not JSON is answered 400 M_NOT_JSON for you. */
  json(): unknown;
  /** An `application/x-www-form-urlencoded` body (what most carriers post); the first value of a repeated key. */
  form(): Record<string, string>;
}

/** What a route answers. Give at most one of `json`, `text`, `body`; nothing means an empty body. */
export interface HttpResponse {
  /** Default 200. */
  status?: number;
  headers?: Record<string, string>;
  json?: unknown;
  text?: string;
  body?: Uint8Array;
}

/**
 * Handles one request. Throwing a PermanentError answers 400 with its message, a RetryLaterError 503
 * with Retry-After (a carrier retries the webhook), an IgnoredEventError 200; anything else 500 (logged).
 */
export type HttpHandler = (request: HttpRequest) => Promise<HttpResponse>;

/** The bridge's own check of who may call its routes (a shared secret, a carrier's signature). */
export type HttpAuthHook = (request: HttpRequest) => boolean | Promise<boolean>;

export interface HttpRouteOptions {
  /** False: this route is not checked by the auth hook (a public callback). Default true. */
  auth?: boolean;
  /** Mount under one of the descriptor's `httpPrefixes` instead of `basePath`. */
  prefix?: string;
}

/**
 * The bridge's HTTP routes on the appservice host (webhooks from carriers, provisioning). Register them
 * in `start()`. They are served by the process that takes the homeserver's transactions (`patchbay
 * start` or `patchbay host`), not by `patchbay worker`s: a handler reaches the rest of the bridge through
 * Redis (`ctx.outbox`, `ctx.store`, `ctx.links`), never through memory of another process.
 */
export interface HttpRoutes {
  /** `/_patchbay/bridges/<name>`: where the bridge's routes are mounted. */
  readonly basePath: string;
  /** `host.url` + basePath, when the host's public URL is known: what to give a carrier. */
  readonly baseUrl: string | null;
  /** Sets the check every route runs first (unless it says `auth: false`); false answers 403. */
  authorize(hook: HttpAuthHook): void;
  /** `path` is express-style below the mount point: `/inbound`, `/calls/:callId`. */
  route(method: HttpMethod, path: string, handler: HttpHandler, options?: HttpRouteOptions): void;
}
