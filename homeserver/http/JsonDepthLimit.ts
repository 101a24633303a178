// Rejects absurdly nested JSON bodies up front: later recursive work on them (serialising, comparing)
// would otherwise overflow the stack. Checked iteratively, so the check itself cannot overflow.
import type { NextFunction, Request, Response } from 'express';
import { MatrixError } from '../MatrixError.js';

export const MAX_JSON_DEPTH = 100;

export function jsonDepthExceeds(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

export function limitJsonDepth(req: Request, _res: Response, next: NextFunction): void {
  if (req.body !== undefined && jsonDepthExceeds(req.body, MAX_JSON_DEPTH)) {
    throw new MatrixError(400, 'M_BAD_JSON', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  next();
}
