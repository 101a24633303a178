import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { RuntimeMetrics } from '../metrics/RuntimeMetrics.js';
import type { HttpResponse } from '../plugin-api/index.js';
import type { BridgeRoute, BridgeRoutes } from './BridgeRoutes.js';
import { answerRoute, requestFrom } from './RouteAnswers.js';

/** The bridges whose routes one router serves. */
export interface RoutedBridge {
  name: string;
  routes: BridgeRoutes;
  logger: Logger;
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

function partsOf(req: Request, route: BridgeRoute) {
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.params ?? {})) params[key] = Array.isArray(value) ? value.join('/') : String(value);
  return {
    method: route.method,
    path: req.path.slice(route.mount.length) || '/',
    params,
    query: firstValues(req.query as Record<string, unknown>),
    headers: firstValues(req.headers),
    body: Buffer.isBuffer(req.body) ? new Uint8Array(req.body) : new Uint8Array(),
    remoteAddress: req.socket.remoteAddress ?? '',
  };
}

function send(res: Response, response: HttpResponse): void {
  res.status(response.status ?? 200);
  for (const [name, value] of Object.entries(response.headers ?? {})) res.setHeader(name, value);
  const typed = (fallback: string): string => String(res.getHeader('content-type') ?? fallback);
  if (response.json !== undefined) res.json(response.json);
  else if (response.text !== undefined) res.type(typed('text/plain')).send(response.text);
  else if (response.body !== undefined) res.type(typed('application/octet-stream')).send(Buffer.from(response.body));
  else res.end();
}

/**
 * Serves every bridge's routes (BridgeRoutes) on the host's HTTP server: the raw body read up to
 * host.max_body_bytes, then RouteAnswers (auth hook, handler, plugin errors). Paths no bridge registered
 * fall through to the host.
 */
export function pluginRoutesRouter(bridges: readonly RoutedBridge[], maxBodyBytes: number, metrics: RuntimeMetrics): Router {
  const router = express.Router({ caseSensitive: true, strict: false });
  const raw = express.raw({ type: () => true, limit: maxBodyBytes });
  for (const bridge of bridges) {
    for (const route of bridge.routes.routes) {
      const label = `${route.method} ${route.mount}${route.path}`;
      const log = bridge.logger.child({ route: label });
      const method = route.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
      router[method](route.mount + route.path, raw, (req, res, next) => {
        answerRoute(route, bridge.routes.hook, requestFrom(partsOf(req, route)), log)
          .then((response) => {
            send(res, response);
            metrics.httpRequests.inc({ bridge: bridge.name, route: label, status: String(res.statusCode) });
          })
          .catch(next);
      });
    }
  }
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const type = (err as { type?: unknown } | null)?.type;
    if (type === 'entity.too.large') return void res.status(413).json({ errcode: 'M_TOO_LARGE', error: 'The request body is too large' });
    if (typeof type === 'string') return void res.status(400).json({ errcode: 'M_BAD_JSON', error: 'The request body could not be read' });
    next(err);
  });
  return router;
}
