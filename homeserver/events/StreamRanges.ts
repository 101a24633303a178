// A set of stream positions kept as sorted, disjoint intervals (after, upTo]: the part of a room one
// reader may see. Timelines walk these intervals instead of testing event by event, so a long stretch the
// reader may not see costs nothing to skip.
/** Below every position: history fetched from other servers (backfill) is stored at negative positions. */
export const HISTORY_START = Number.MIN_SAFE_INTEGER;

export interface StreamRange {
  /** Exclusive. */
  after: number;
  /** Inclusive; Infinity for "and everything from then on". */
  upTo: number;
}

export class StreamRanges {
  private constructor(private readonly list: readonly StreamRange[]) {}

  /** From intervals in ascending order (touching ones are merged; empty ones dropped). */
  static fromSorted(ranges: Iterable<StreamRange>): StreamRanges {
    const out: StreamRange[] = [];
    for (const r of ranges) {
      if (r.upTo <= r.after) continue;
      const last = out[out.length - 1];
      if (last && r.after <= last.upTo) last.upTo = Math.max(last.upTo, r.upTo);
      else out.push({ ...r });
    }
    return new StreamRanges(out);
  }

  contains(pos: number): boolean {
    let lo = 0;
    let hi = this.list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.list[mid]!;
      if (pos <= r.after) hi = mid - 1;
      else if (pos > r.upTo) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** The part within (after, upTo], oldest first. */
  within(after: number, upTo: number): StreamRange[] {
    const out: StreamRange[] = [];
    for (const r of this.list) {
      const a = Math.max(r.after, after);
      const u = Math.min(r.upTo, upTo);
      if (a < u) out.push({ after: a, upTo: u });
    }
    return out;
  }
}
