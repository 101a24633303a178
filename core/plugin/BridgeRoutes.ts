import type { HttpAuthHook, HttpHandler, HttpMethod, HttpRouteOptions, HttpRoutes } from '../plugin-api/index.js';
import { BRIDGE_ROUTES_ROOT } from './HttpPrefixes.js';

const METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** One registered route of a bridge. */
export interface BridgeRoute {
  method: HttpMethod;
  /** Where it is mounted: the bridge's basePath or one of its claimed prefixes. */
  mount: string;
  path: string;
  handler: HttpHandler;
  auth: boolean;
}

/**
 * What a bridge registers through `ctx.http` during start(): its routes and its auth hook. Registration
 * closes when start() returns (routes are served by the process's one router, built then); a route that
 * needs the hook while none was set stops the start with the fix.
 */
export class BridgeRoutes implements HttpRoutes {
  readonly basePath: string;
  readonly baseUrl: string | null;
  readonly routes: BridgeRoute[] = [];
  hook: HttpAuthHook | null = null;
  private sealed = false;

  constructor(
    private readonly bridge: string,
    private readonly claimed: readonly string[],
    publicUrl: string | null,
  ) {
    this.basePath = `${BRIDGE_ROUTES_ROOT}/${bridge}`;
    this.baseUrl = publicUrl === null ? null : publicUrl.replace(/\/+$/, '') + this.basePath;
  }

  authorize(hook: HttpAuthHook): void {
    this.open('ctx.http.authorize');
    if (typeof hook !== 'function') throw new TypeError('ctx.http.authorize needs a function (request) => boolean');
    this.hook = hook;
  }

  route(method: HttpMethod, path: string, handler: HttpHandler, options: HttpRouteOptions = {}): void {
    this.open('ctx.http.route');
    if (!METHODS.includes(method)) throw new TypeError(`ctx.http.route: ${JSON.stringify(method)} is not one of ${METHODS.join(', ')}`);
    if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError(`ctx.http.route: the path ${JSON.stringify(path)} must start with /`);
    if (typeof handler !== 'function') throw new TypeError('ctx.http.route needs a handler (request) => Promise<response>');
    const mount = options.prefix ?? this.basePath;
    if (mount !== this.basePath && !this.claimed.includes(mount)) {
      throw new Error(`ctx.http.route: the prefix ${mount} is not one of the descriptor's httpPrefixes (${this.claimed.join(', ') || 'none'}); declare it there`);
    }
    if (this.routes.some((r) => r.method === method && r.mount === mount && r.path === path)) {
      throw new Error(`ctx.http.route: ${method} ${mount}${path} is registered twice`);
    }
    this.routes.push({ method, mount, path, handler, auth: options.auth ?? true });
  }

  /** Ends registration (start() returned); throws when a route needs an auth hook the bridge did not set. */
  seal(): void {
    this.sealed = true;
    const unguarded = this.routes.filter((r) => r.auth);
    if (unguarded.length > 0 && this.hook === null) {
      const first = unguarded[0]!;
      throw new Error(
        `bridges.${this.bridge}: the route ${first.method} ${first.mount}${first.path} needs an auth hook, but none was set. ` +
          'Fix: call ctx.http.authorize(request => ...) in start(), or register the route with { auth: false }',
      );
    }
  }

  private open(what: string): void {
    if (this.sealed) throw new Error(`${what}: register routes in start(); the host's routes are fixed once the bridges run`);
  }
}
