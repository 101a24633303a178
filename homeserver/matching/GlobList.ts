// A list of globs asked the same question many times: "does any of them match this event type?". A sync
// asks it for every event it looks at, mostly about the same few types, so each value's answer is kept
// (up to a bound) and a list costs its O(n·m) walks once per distinct value, not once per event.
import { Glob, type GlobOptions } from './Glob.js';

const MAX_REMEMBERED = 1024;

export class GlobList {
  private readonly globs: Glob[];
  private readonly answers = new Map<string, boolean>();

  constructor(
    readonly patterns: readonly string[],
    options: GlobOptions,
  ) {
    this.globs = patterns.map((p) => Glob.compile(p, options));
  }

  get isEmpty(): boolean {
    return this.globs.length === 0;
  }

  matchesAny(value: string): boolean {
    const known = this.answers.get(value);
    if (known !== undefined) return known;
    const answer = this.globs.some((g) => g.matches(value));
    if (this.answers.size < MAX_REMEMBERED) this.answers.set(value, answer);
    return answer;
  }
}
