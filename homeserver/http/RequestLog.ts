// One debug line and the request metrics per request (the path is logged without the query, which may
// carry an access token).
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { HomeserverMetrics } from '../HomeserverMetrics.js';

export function requestLog(logger: Logger, metrics: HomeserverMetrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpRequests.inc({ method: req.method, status: String(res.statusCode) });
      metrics.httpDuration.observe({ method: req.method }, seconds);
      if (!logger.isLevelEnabled('debug')) return;
      logger.debug({ method: req.method, path: req.path, status: res.statusCode, ms: Math.round(seconds * 1000) }, 'request');
    });
    next();
  };
}
