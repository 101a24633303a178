// The Client-Server routes the appservice side owns: third-party lookups (v3) and the appservice ping
// (v1). The room core mounts this router under each client prefix behind its auth middleware, which
// sets `res.locals.requester`; errors are rendered here so the router works under any error handler.
import express, { Router, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { Requester } from '../contracts.js';
import { MatrixError } from '../MatrixError.js';
import type { AppservicePing } from './AppservicePing.js';
import type { ThirdPartyFanout, ThirdPartyKind } from './ThirdPartyFanout.js';

export interface AppserviceClientRouterDeps {
  fanout: ThirdPartyFanout;
  ping: AppservicePing;
  logger: Logger;
}

export function appserviceClientRouter(deps: AppserviceClientRouterDeps): Router {
  const router = Router();
  const { fanout, ping } = deps;

  const handle = (fn: (req: Request, res: Response, requester: Requester) => Promise<unknown>) =>
    async (req: Request, res: Response): Promise<void> => {
      try {
        const requester = res.locals['requester'] as Requester | undefined;
        if (requester === undefined) throw new MatrixError(401, 'M_MISSING_TOKEN', 'Missing access token');
        res.status(200).json(await fn(req, res, requester));
      } catch (err) {
        if (err instanceof MatrixError) {
          res.status(err.status).json(err.toJSON());
          return;
        }
        deps.logger.error({ err, path: req.path }, 'appservice client route failed');
        res.status(500).json({ errcode: 'M_UNKNOWN', error: 'Internal server error' });
      }
    };

  router.get(
    '/thirdparty/protocols',
    handle(() => fanout.protocols()),
  );

  router.get(
    '/thirdparty/protocol/:protocol',
    handle(async (req) => {
      const protocol = await fanout.protocol(param(req, 'protocol'));
      if (protocol === null) throw new MatrixError(404, 'M_NOT_FOUND', 'Unknown protocol');
      return protocol;
    }),
  );

  for (const kind of ['user', 'location'] as const satisfies readonly ThirdPartyKind[]) {
    router.get(
      `/thirdparty/${kind}/:protocol`,
      handle(async (req) => {
        const results = await fanout.lookup(kind, param(req, 'protocol'), forwardedQuery(req));
        if (results === null) throw new MatrixError(404, 'M_NOT_FOUND', 'Unknown protocol');
        if (results.length === 0) throw new MatrixError(404, 'M_NOT_FOUND', `No third-party ${kind}s found`);
        return results;
      }),
    );
    const reverseParam = kind === 'user' ? 'userid' : 'alias';
    router.get(
      `/thirdparty/${kind}`,
      handle(async (req) => {
        if (typeof req.query[reverseParam] !== 'string') {
          throw new MatrixError(400, 'M_MISSING_PARAM', `Missing query parameter ${reverseParam}`);
        }
        const results = await fanout.reverse(kind, forwardedQuery(req));
        if (results.length === 0) throw new MatrixError(404, 'M_NOT_FOUND', `No third-party ${kind}s found`);
        return results;
      }),
    );
  }

  router.post(
    '/appservice/:appserviceId/ping',
    // A no-op when the room core already parsed the body.
    express.json({ limit: '64kb', type: () => true }),
    handle((req, _res, requester) => ping.ping(requester, param(req, 'appserviceId'), req.body ?? {})),
  );

  // Body-parser failures of the ping route, as spec errors rather than the framework's HTML page.
  router.use((err: unknown, _req: Request, res: Response, next: (err?: unknown) => void) => {
    const type = typeof err === 'object' && err !== null ? (err as { type?: unknown }).type : undefined;
    if (type === 'entity.parse.failed') {
      res.status(400).json({ errcode: 'M_NOT_JSON', error: 'Request body is not valid JSON' });
    } else if (type === 'entity.too.large') {
      res.status(413).json({ errcode: 'M_TOO_LARGE', error: 'Request body too large' });
    } else {
      next(err);
    }
  });

  return router;
}

function param(req: Request, name: string): string {
  const value = req.params[name];
  return typeof value === 'string' ? value : '';
}

/**
 * The client's query string exactly as sent (order, repeats and encoding kept), minus `access_token`:
 * the client's own credential must never reach an appservice.
 */
export function forwardedQuery(req: Request): string {
  const q = req.originalUrl.indexOf('?');
  if (q < 0) return '';
  return req.originalUrl
    .slice(q + 1)
    .split('&')
    .filter((part) => part !== '' && queryKey(part) !== 'access_token')
    .join('&');
}

function queryKey(part: string): string {
  const raw = part.split('=', 1)[0] ?? '';
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}
