// Request bodies parsed as strictly as the spec's canonical JSON needs, instead of silently repaired:
// express.json turned invalid UTF-8 into U+FFFD, kept `"\ud800"` as a lone surrogate, made `1e400` null
// and `9007199254740993` another number. One linear scan of the text catches what JSON.parse would
// hide (nesting, lone surrogate escapes, numbers it cannot keep exactly) and JSON.parse does the rest.
// No library does this set of checks (lossless-json keeps big numbers but not the rest); V8's source
// access in JSON.parse revivers arrived after Node 20.
import { MatrixError } from '../MatrixError.js';

/** Deepest nesting of objects and arrays a body may have (deeper ones would overflow later recursion). */
export const MAX_JSON_DEPTH = 100;

const decoder = new TextDecoder('utf-8', { fatal: true });

const QUOTE = 0x22;
/** The next `"` or `\` from lastIndex on. */
const STRING_STOP = /["\\]/g;
const BACKSLASH = 0x5c;

function notJson(message: string): MatrixError {
  return new MatrixError(400, 'M_NOT_JSON', message);
}

function badJson(message: string): MatrixError {
  return new MatrixError(400, 'M_BAD_JSON', message);
}

function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e /* . */ || c === 0x65 /* e */ || c === 0x45 /* E */ || c === 0x2b /* + */ || c === 0x2d /* - */;
}

function isHex4(text: string, at: number): boolean {
  return /^[0-9A-Fa-f]{4}$/.test(text.slice(at, at + 4));
}

/** The UTF-16 unit a `\uXXXX` escape at `at` (pointing at the backslash) stands for, or -1. */
function escapedUnit(text: string, at: number): number {
  if (text.charCodeAt(at) !== BACKSLASH || text.charCodeAt(at + 1) !== 0x75 /* u */ || !isHex4(text, at + 2)) return -1;
  return parseInt(text.slice(at + 2, at + 6), 16);
}

/**
 * Whether an integer literal (optional '-', digits) lies within ±(2^53−1), the range canonical JSON
 * allows and a double keeps exactly. Decided on the digits, before any rounding could hide it.
 */
function isSafeIntegerLiteral(literal: string): boolean {
  const digits = literal.startsWith('-') ? literal.slice(1) : literal;
  if (digits.length !== 16) return digits.length < 16;
  return digits <= '9007199254740991';
}

/**
 * Why the text is not acceptable beyond its grammar (which JSON.parse judges), or null. Nesting deeper
 * than maxDepth is reported at once (so JSON.parse never builds it); the rest only once the text has
 * proven to be JSON, so a broken body is still "not JSON" whatever numbers it holds.
 */
function scan(text: string, maxDepth: number): { deep: boolean; problem: MatrixError | null } {
  let depth = 0;
  let problem: MatrixError | null = null;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // A string: only escapes matter; the decoded text itself holds no lone surrogates. The regex
      // search skips plain text far faster than a loop over it.
      for (i++; i < n; i++) {
        STRING_STOP.lastIndex = i;
        i = STRING_STOP.test(text) ? STRING_STOP.lastIndex - 1 : n;
        if (i >= n || text.charCodeAt(i) === QUOTE) break;
        const unit = escapedUnit(text, i);
        if (unit < 0) {
          i++;
          continue;
        }
        if (unit >= 0xd800 && unit <= 0xdbff) {
          const low = escapedUnit(text, i + 6);
          if (low >= 0xdc00 && low <= 0xdfff) {
            i += 11;
            continue;
          }
          problem ??= notJson('The JSON contains an unpaired surrogate escape (\\u' + text.slice(i + 2, i + 6) + ')');
        } else if (unit >= 0xdc00 && unit <= 0xdfff) {
          problem ??= notJson('The JSON contains an unpaired surrogate escape (\\u' + text.slice(i + 2, i + 6) + ')');
        }
        i += 5;
      }
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > maxDepth) return { deep: true, problem: badJson(`JSON nested deeper than ${maxDepth} levels`) };
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1;
      while (end < n && isNumberChar(text.charCodeAt(end))) end++;
      const literal = text.slice(i, end);
      if (problem === null) {
        const integer = !/[.eE]/.test(literal);
        if (integer ? !isSafeIntegerLiteral(literal) : !Number.isFinite(Number(literal))) {
          problem = badJson(`The number ${literal.length > 40 ? literal.slice(0, 40) + '…' : literal} is outside ±(2^53−1)`);
        }
      }
      i = end - 1;
    }
  }
  return { deep: false, problem };
}

/**
 * Parses a request body: not UTF-8, not JSON or an unpaired surrogate escape -> 400 M_NOT_JSON;
 * nesting deeper than maxDepth or a number outside ±(2^53−1) -> 400 M_BAD_JSON. Fractions stay allowed
 * here (a room tag's `order` is one); event content is checked for integers where events are made.
 */
export function parseStrictJson(bytes: Uint8Array, maxDepth = MAX_JSON_DEPTH): unknown {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw notJson('The request body is not valid UTF-8');
  }
  const checked = scan(text, maxDepth);
  if (checked.deep) throw checked.problem!;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw notJson('Content not JSON');
  }
  if (checked.problem) throw checked.problem;
  return value;
}
