// Every failure becomes a spec error body: MatrixError as itself, body-parser failures as M_NOT_JSON or
// M_TOO_LARGE, anything unexpected as 500 M_UNKNOWN with its stack in the log (never a crash, never HTML).
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { MatrixError } from '../MatrixError.js';

export function toMatrixError(err: unknown): MatrixError | null {
  if (err instanceof MatrixError) return err;
  if (typeof err !== 'object' || err === null) return null;
  const e = err as { type?: unknown; status?: unknown; statusCode?: unknown; message?: unknown };
  switch (e.type) {
    case 'entity.parse.failed':
      return new MatrixError(400, 'M_NOT_JSON', 'Content not JSON');
    case 'entity.too.large':
      return new MatrixError(413, 'M_TOO_LARGE', 'Request body too large');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new MatrixError(415, 'M_UNKNOWN', 'Unsupported content encoding or charset');
    case 'request.aborted':
      return new MatrixError(400, 'M_UNKNOWN', 'Request aborted');
    default:
      break;
  }
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 0;
  if (status >= 400 && status < 500) {
    // e.g. a path parameter that is not valid percent-encoding.
    return new MatrixError(status, status === 400 ? 'M_INVALID_PARAM' : 'M_UNKNOWN', String(e.message ?? 'Bad request'));
  }
  return null;
}

export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const known = toMatrixError(err);
    const error =
      known ??
      (() => {
        logger.error({ err, method: req.method, path: req.path }, 'request failed');
        return new MatrixError(500, 'M_UNKNOWN', 'Internal server error');
      })();
    if (res.headersSent) {
      res.end();
      return;
    }
    if (error.status === 429 && typeof error.extra['retry_after_ms'] === 'number') {
      res.setHeader('Retry-After', String(Math.ceil(error.extra['retry_after_ms'] / 1000)));
    }
    res.status(error.status).json(error.toJSON());
  };
}

export function unrecognized(_req: Request, res: Response): void {
  res.status(404).json({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
}

export function methodNotAllowed(_req: Request, res: Response): void {
  res.status(405).json({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request: method not allowed' });
}
