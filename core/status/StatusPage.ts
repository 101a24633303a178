import express, { type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { HealthReport } from '../host/PipelineHealth.js';
import type { ReplayOutcome } from '../queue/DeadLetterReplay.js';
import type { DeadLetters } from '../queue/DeadLetters.js';
import type { RecentErrors } from './RecentErrors.js';
import { STATUS_COOKIE, type StatusAccess } from './StatusAccess.js';
import { STATUS_PAGE_HTML, statusGatePage } from './StatusPageHtml.js';
import { probeHomeserver, type StatusSnapshot } from './StatusSnapshot.js';

export const STATUS_JSON_PATH = '/_patchbay/status';
const NEWEST_DEAD_LETTERS = 50;

export interface StatusPageOptions {
  access: StatusAccess;
  health: () => Promise<HealthReport>;
  deadLetters: DeadLetters;
  /** The same replay as `patchbay dead-letters replay`. */
  replay: (which: string[] | 'all') => Promise<ReplayOutcome>;
  /** The homeserver the bridges act through, probed for the page; null when this process does not know it. */
  homeserverUrl: () => string | null;
  recentErrors: RecentErrors | null;
  logger: Logger;
}

/**
 * The operator's status page on the host's port: GET / (HTML that polls GET /_patchbay/status every two
 * seconds) and the dead-letter actions (POST /_patchbay/status/dead-letters/replay and /drop, JSON bodies
 * only, so another site's form cannot post them). See StatusAccess for who may use it.
 */
export function createStatusPageRouter(options: StatusPageOptions): Router {
  const { access, logger } = options;
  const router = express.Router();
  const noStore = (res: Response): Response => res.setHeader('Cache-Control', 'no-store');

  router.get('/', (req, res) => {
    noStore(res).setHeader('X-Frame-Options', 'DENY');
    const token = typeof req.query.token === 'string' ? req.query.token : null;
    if (access.mode === 'token' && token !== null && access.matches(token)) {
      // Into a cookie and out of the address bar (and the browser's history).
      res.setHeader('Set-Cookie', `${STATUS_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`);
      res.redirect(303, '/');
      return;
    }
    if (!access.allows(req)) {
      res.status(access.mode === 'off' ? 403 : 401).type('html').send(statusGatePage(access.mode === 'off' ? 'off' : token === null ? 'ask' : 'wrong'));
      return;
    }
    res.type('html').send(STATUS_PAGE_HTML);
  });

  const guard = (req: Request, res: Response): boolean => {
    if (access.allows(req)) return true;
    const error = access.mode === 'off' ? 'The status page is off: host.bind is beyond loopback and host.status_token is not set' : 'Missing or wrong status token (host.status_token)';
    noStore(res).status(access.mode === 'off' ? 403 : 401).json({ errcode: access.mode === 'off' ? 'M_FORBIDDEN' : 'M_UNKNOWN_TOKEN', error });
    return false;
  };

  router.get(STATUS_JSON_PATH, async (req, res) => {
    if (!guard(req, res)) return;
    const [homeserver, health, count, newest] = await Promise.all([
      probeHomeserver(options.homeserverUrl()),
      options.health(),
      options.deadLetters.count().catch(() => 0),
      options.deadLetters.list(NEWEST_DEAD_LETTERS).catch(() => []),
    ]);
    const snapshot: StatusSnapshot = { time: Date.now(), homeserver, health, dead_letters: { count, newest }, recent_errors: options.recentErrors?.list() ?? [] };
    noStore(res).json(snapshot);
  });

  const json = express.json({ limit: '64kb' });
  router.post(`${STATUS_JSON_PATH}/dead-letters/:action`, (req, res, next) => {
    if (!guard(req, res)) return;
    if (!req.is('application/json')) {
      res.status(415).json({ errcode: 'M_NOT_JSON', error: 'Send a JSON body (Content-Type: application/json)' });
      return;
    }
    json(req, res, next);
  }, async (req, res) => {
    const action = req.params.action;
    const body = req.body as { ids?: unknown; all?: unknown };
    const ids = Array.isArray(body.ids) && body.ids.every((id) => typeof id === 'string') ? (body.ids as string[]) : null;
    if (action === 'replay' && body.all === true && ids === null) {
      const outcome = await options.replay('all');
      logger.info({ replayed: outcome.replayed.length }, 'status page: every dead letter replayed');
      res.json(outcome);
    } else if ((action === 'replay' || action === 'drop') && ids !== null && ids.length > 0 && ids.length <= 1000) {
      if (action === 'replay') {
        const outcome = await options.replay(ids);
        logger.info({ replayed: outcome.replayed, missing: outcome.missing }, 'status page: dead letters replayed');
        res.json(outcome);
      } else {
        const dropped: string[] = [];
        const missing: string[] = [];
        for (const id of ids) ((await options.deadLetters.remove(id)) ? dropped : missing).push(id);
        logger.info({ dropped, missing }, 'status page: dead letters dropped');
        res.json({ dropped, missing });
      }
    } else {
      res.status(400).json({ errcode: 'M_BAD_JSON', error: 'POST .../dead-letters/replay or /drop with {"ids": ["$event_id", ...]} (1 to 1000), or replay with {"all": true}' });
    }
  });
  return router;
}
