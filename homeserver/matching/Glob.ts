// Globs that users write (sync filter `types`, push rule patterns) matched without RegExp. A RegExp built
// from `a*a*a*a*a*b` backtracks exponentially (20 s against 200 'a's, every extra `*` multiplying it) and
// blocks the one event loop the homeserver, the host and the bridges share. Here a greedy two-pointer
// walk retries only from the last `*` seen, so one match costs at most O(n·m) steps for a value of n
// characters and a pattern of m, whatever the pattern.

export interface GlobOptions {
  /** `?` matches exactly one character (push rules); when false it is a literal character (event filters). */
  questionMark: boolean;
  /** Compare lower-cased (push rules match case-insensitively). */
  caseInsensitive?: boolean;
  /**
   * Match any part of the value that starts and ends at a word boundary instead of the whole value: the
   * spec's push rules on `content.body`, where a boundary is an end of the value or a character outside
   * [A-Za-z0-9_] next to the match.
   */
  wordBoundary?: boolean;
}

// Tokens are code points (>= 0) or one of these.
const ANY_RUN = -1;
const ONE = -2;
const WORD_START = -3;
const WORD_END = -4;

function isWordChar(cp: number | undefined): boolean {
  return (
    cp !== undefined &&
    ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) || cp === 0x5f)
  );
}

function codePoints(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) out.push(ch.codePointAt(0)!);
  return out;
}

export class Glob {
  private constructor(
    readonly pattern: string,
    private readonly tokens: number[],
    /** Characters the pattern needs at least: a shorter value never matches, whatever its content. */
    private readonly minLength: number,
    /** The whole pattern when it has no wildcard at all: matching is then plain equality. */
    private readonly literal: string | null,
    private readonly caseInsensitive: boolean,
  ) {}

  static compile(pattern: string, options: GlobOptions): Glob {
    const caseInsensitive = options.caseInsensitive === true;
    const text = caseInsensitive ? pattern.toLowerCase() : pattern;
    const tokens: number[] = options.wordBoundary ? [ANY_RUN, WORD_START] : [];
    let minLength = 0;
    let wild = options.wordBoundary === true;
    for (const cp of codePoints(text)) {
      if (cp === 0x2a /* * */) {
        wild = true;
        // `**` is `*`: collapsing runs keeps m, and so the cost, proportional to the pattern's meaning.
        if (tokens[tokens.length - 1] !== ANY_RUN) tokens.push(ANY_RUN);
        continue;
      }
      minLength++;
      if (cp === 0x3f /* ? */ && options.questionMark) {
        wild = true;
        tokens.push(ONE);
      } else {
        tokens.push(cp);
      }
    }
    if (options.wordBoundary) tokens.push(WORD_END, ANY_RUN);
    return new Glob(pattern, tokens, minLength, wild ? null : text, caseInsensitive);
  }

  matches(value: string): boolean {
    const text = this.caseInsensitive ? value.toLowerCase() : value;
    if (this.literal !== null) return text === this.literal;
    const v = codePoints(text);
    if (v.length < this.minLength) return false;
    const t = this.tokens;
    let p = 0;
    let i = 0;
    // Where the last `*` was and how much of the value it has swallowed so far.
    let starP = -1;
    let starI = 0;
    for (;;) {
      if (p < t.length) {
        const tok = t[p]!;
        if (tok === ANY_RUN) {
          starP = p++;
          starI = i;
          continue;
        }
        if (tok === WORD_START ? i === 0 || !isWordChar(v[i - 1]) : tok === WORD_END && (i === v.length || !isWordChar(v[i]))) {
          p++;
          continue;
        }
        if (i < v.length && (tok === ONE || tok === v[i])) {
          p++;
          i++;
          continue;
        }
      } else if (i === v.length) {
        return true;
      }
      // A mismatch, or pattern done before the value: let the last `*` swallow one more character and
      // retry what follows it. Earlier stars never need to move: what follows the last one matched
      // leftmost, and a later start could only leave it less room.
      if (starP < 0 || starI >= v.length) return false;
      starI++;
      i = starI;
      p = starP + 1;
    }
  }
}
