// One debug line and the request metrics per request. The line has the full path (req.path is only the
// part below the router that answered) and the query string with any access_token value replaced.
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { HomeserverMetrics } from '../HomeserverMetrics.js';

/** The full path and, when there is one, the query with its access tokens hidden. */
export function loggedUrl(originalUrl: string): { path: string; query?: string } {
  const mark = originalUrl.indexOf('?');
  if (mark < 0) return { path: originalUrl };
  const params = new URLSearchParams(originalUrl.slice(mark + 1));
  for (const key of [...params.keys()]) {
    if (key.toLowerCase() === 'access_token') params.set(key, 'REDACTED');
  }
  return { path: originalUrl.slice(0, mark), query: params.toString() };
}

export function requestLog(logger: Logger, metrics: HomeserverMetrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpRequests.inc({ method: req.method, status: String(res.statusCode) });
      metrics.httpDuration.observe({ method: req.method }, seconds);
      if (!logger.isLevelEnabled('debug')) return;
      logger.debug({ method: req.method, ...loggedUrl(req.originalUrl), status: res.statusCode, ms: Math.round(seconds * 1000) }, 'request');
    });
    next();
  };
}
