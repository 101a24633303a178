// Stream tokens. `s<pos>_<eph>`: `pos` orders events, receipts and account data (the shared stream
// counter); `eph` orders typing and presence, which live in memory. Pagination tokens are `t<pos>`.
import { MatrixError } from '../MatrixError.js';

export interface StreamToken {
  pos: number;
  eph: number;
}

export function syncToken(pos: number, eph: number): string {
  return `s${pos}_${eph}`;
}

export function paginationToken(pos: number): string {
  return `t${pos}`;
}

export function parseToken(token: string, param: string): StreamToken {
  const m = /^[st](\d{1,15})(?:_(\d{1,16}))?$/.exec(token);
  if (!m) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid ${param} token`);
  return { pos: Number(m[1]), eph: m[2] === undefined ? 0 : Number(m[2]) };
}
