import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { RuntimeMetrics } from '../metrics/RuntimeMetrics.js';
import { failureKindOf, type HttpRequest, type HttpResponse, type RetryLaterError } from '../plugin-api/index.js';
import type { BridgeRoute, BridgeRoutes } from './BridgeRoutes.js';

/** The bridges whose routes one router serves. */
export interface RoutedBridge {
  name: string;
  routes: BridgeRoutes;
  logger: Logger;
}

/** An answer decided before the handler ran (a body that is not JSON, a refused request). */
class RouteAnswer extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
  ) {
    super(message);
  }
}

function first(value: unknown): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return typeof v === 'string' ? v : undefined;
}

function firstValues(source: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(source)) {
    const v = first(value);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

function requestOf(req: Request, route: BridgeRoute): HttpRequest {
  const body = Buffer.isBuffer(req.body) ? new Uint8Array(req.body) : new Uint8Array();
  const text = (): string => Buffer.from(body).toString('utf8');
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.params ?? {})) params[key] = Array.isArray(value) ? value.join('/') : String(value);
  return {
    method: route.method,
    path: req.path.slice(route.mount.length) || '/',
    params,
    query: firstValues(req.query as Record<string, unknown>),
    headers: firstValues(req.headers),
    body,
    remoteAddress: req.socket.remoteAddress ?? '',
    text,
    json: () => {
      try {
        return JSON.parse(text()) as unknown;
      } catch {
        throw new RouteAnswer(400, 'M_NOT_JSON', 'The request body is not JSON');
      }
    },
    form: () => {
      const fields: Record<string, string> = {};
      for (const [key, value] of new URLSearchParams(text())) if (!(key in fields)) fields[key] = value;
      return fields;
    },
  };
}

function send(res: Response, response: HttpResponse): void {
  res.status(response.status ?? 200);
  for (const [name, value] of Object.entries(response.headers ?? {})) res.setHeader(name, value);
  if (response.json !== undefined) res.json(response.json);
  else if (response.text !== undefined) res.type(res.getHeader('content-type') === undefined ? 'text/plain' : String(res.getHeader('content-type'))).send(response.text);
  else if (response.body !== undefined) res.type(res.getHeader('content-type') === undefined ? 'application/octet-stream' : String(res.getHeader('content-type'))).send(Buffer.from(response.body));
  else res.end();
}

function sendError(res: Response, status: number, errcode: string, error: string, extra: Record<string, unknown> = {}): void {
  res.status(status).json({ errcode, error, ...extra });
}

/**
 * Serves every bridge's routes (BridgeRoutes) on the host's HTTP server: the raw body read up to
 * host.max_body_bytes, the bridge's auth hook run first, the handler's answer sent as it says. A plugin
 * error answers as its kind says (PermanentError 400, RetryLaterError 503 with Retry-After, IgnoredEventError
 * 200); any other failure 500, logged with the bridge. Paths no bridge registered fall through to the host.
 */
export function pluginRoutesRouter(bridges: readonly RoutedBridge[], maxBodyBytes: number, metrics: RuntimeMetrics): Router {
  const router = express.Router({ caseSensitive: true, strict: false });
  const raw = express.raw({ type: () => true, limit: maxBodyBytes });
  for (const bridge of bridges) {
    for (const route of bridge.routes.routes) {
      const label = `${route.method} ${route.mount}${route.path}`;
      const log = bridge.logger.child({ route: label });
      const counted = (res: Response): void => {
        metrics.httpRequests.inc({ bridge: bridge.name, route: label, status: String(res.statusCode) });
      };
      const serve = async (req: Request, res: Response): Promise<void> => {
        try {
          const request = requestOf(req, route);
          if (route.auth && !(await bridge.routes.hook!(request))) throw new RouteAnswer(403, 'M_FORBIDDEN', 'This request is not authorized by the bridge');
          const response = await route.handler(request);
          if (typeof response !== 'object' || response === null) throw new Error('the route handler returned no response object');
          send(res, response);
        } catch (err) {
          answerFailure(res, err, log);
        }
        counted(res);
      };
      const method = route.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
      router[method](route.mount + route.path, raw, (req, res, next) => {
        serve(req, res).catch(next);
      });
    }
  }
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const type = (err as { type?: unknown } | null)?.type;
    if (type === 'entity.too.large') return sendError(res, 413, 'M_TOO_LARGE', 'The request body is too large');
    if (typeof type === 'string') return sendError(res, 400, 'M_BAD_JSON', 'The request body could not be read');
    next(err);
  });
  return router;
}

function answerFailure(res: Response, err: unknown, log: Logger): void {
  if (err instanceof RouteAnswer) return sendError(res, err.status, err.errcode, err.message);
  const message = err instanceof Error ? err.message : String(err);
  switch (failureKindOf(err)) {
    case 'permanent':
      log.info({ reason: message }, 'route refused the request for good');
      return sendError(res, 400, 'M_INVALID_PARAM', message);
    case 'ignored':
      log.debug({ reason: message }, 'route ignored the request');
      return void res.status(200).json({});
    case 'retry-later': {
      const delay = (err as RetryLaterError).delayMs;
      if (delay !== undefined) res.setHeader('Retry-After', String(Math.max(1, Math.ceil(delay / 1000))));
      log.info({ reason: message, retry_after_ms: delay }, 'route asked the caller to retry later');
      return sendError(res, 503, 'M_UNKNOWN', message, delay !== undefined ? { retry_after_ms: delay } : {});
    }
    default:
      log.error({ err }, 'route handler failed');
      return sendError(res, 500, 'M_UNKNOWN', 'Internal error');
  }
}
