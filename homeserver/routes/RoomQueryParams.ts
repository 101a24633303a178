// Query parameters shared by the client and federation forms of GET hierarchy and timestamp_to_event.
import type { Request } from 'express';
import { query } from '../http/RequestReader.js';
import { MatrixError } from '../MatrixError.js';

/** `suggested_only`: true or false, false when absent. */
export function suggestedOnlyOf(req: Request): boolean {
  const v = query(req, 'suggested_only');
  if (v === undefined || v === 'false') return false;
  if (v === 'true') return true;
  throw new MatrixError(400, 'M_INVALID_PARAM', '"suggested_only" must be true or false');
}

/** `ts` (milliseconds, required) and `dir` (`f` or `b`, required). */
export function timestampQueryOf(req: Request): { ts: number; dir: 'f' | 'b' } {
  const ts = query(req, 'ts');
  if (ts === undefined) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing "ts"');
  if (!/^\d{1,15}$/.test(ts)) throw new MatrixError(400, 'M_INVALID_PARAM', '"ts" must be a timestamp in milliseconds');
  const dir = query(req, 'dir');
  if (dir === undefined) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing "dir"');
  if (dir !== 'f' && dir !== 'b') throw new MatrixError(400, 'M_INVALID_PARAM', '"dir" must be "f" or "b"');
  return { ts: Number(ts), dir };
}
