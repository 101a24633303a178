// Stream tokens. `s<pos>_<eph>`: `pos` orders events, receipts, account data, to-device messages and
// device-list changes (the shared stream counter); `eph` orders typing and presence, which live in memory.
// A third part, `s<pos>_<eph>_<td>`, appears when a sync handed out only part of the device's to-device
// backlog: the device has then received its messages up to `td` only. Pagination tokens are `t<pos>`.
import { MatrixError } from '../MatrixError.js';

export interface StreamToken {
  pos: number;
  eph: number;
  /** To-device messages received up to here (when below `pos`); absent means up to `pos`. */
  toDevice?: number;
}

export function syncToken(pos: number, eph: number, toDevice: number | null = null): string {
  return toDevice === null || toDevice >= pos ? `s${pos}_${eph}` : `s${pos}_${eph}_${toDevice}`;
}

export function paginationToken(pos: number): string {
  return `t${pos}`;
}

export function parseToken(token: string, param: string): StreamToken {
  // Pagination tokens may be negative: backfilled history lies below position 0.
  const m = /^[st](-?\d{1,15})(?:_(\d{1,16})(?:_(\d{1,15}))?)?$/.exec(token);
  if (!m || (token.startsWith('s') && m[1]!.startsWith('-'))) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid ${param} token`);
  const out: StreamToken = { pos: Number(m[1]), eph: m[2] === undefined ? 0 : Number(m[2]) };
  if (m[3] !== undefined) out.toDevice = Math.min(Number(m[3]), out.pos);
  return out;
}

/** How far the device has acknowledged its to-device messages with this since token. */
export function toDeviceAck(since: StreamToken): number {
  return since.toDevice ?? since.pos;
}
