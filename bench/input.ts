// `npm run bench -- input`: what hostile input costs. Filter globs: the linear matcher against the
// backtracking RegExp it replaced (issue 7: `a*a*a*a*a*b` over 200 'a's took 20 s per match). Request
// bodies: the strict parser (UTF-8, surrogates, number range, nesting) against plain JSON.parse.
import { Glob } from '../homeserver/matching/Glob.js';
import { parseStrictJson } from '../homeserver/http/StrictJson.js';
import { progress, round, type BenchResult } from './BenchModule.js';

/** Microseconds per call, over enough calls to last about `ms`. */
function perCall(fn: () => unknown, ms = 300): number {
  const warmUntil = performance.now() + ms / 3;
  while (performance.now() < warmUntil) fn();
  let calls = 0;
  const start = performance.now();
  let now = start;
  do {
    for (let i = 0; i < 10; i++) fn();
    calls += 10;
    now = performance.now();
  } while (now - start < ms);
  return ((now - start) * 1000) / calls;
}

/** The RegExp the filter code built before (`*` -> `.*`, the rest escaped). */
function oldRegExp(pattern: string): RegExp {
  return new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
}

export async function run(): Promise<BenchResult> {
  progress('globs');
  const issue = 'a*a*a*a*a*b';
  const regexpMs: Record<string, number> = {};
  for (const n of [50, 100, 200]) {
    const value = 'a'.repeat(n);
    const start = performance.now();
    oldRegExp(issue).test(value);
    regexpMs[`a_x${n}`] = round(performance.now() - start, 1);
  }
  const a200 = 'a'.repeat(200);
  const a255 = 'a'.repeat(255);
  const glob = {
    issue_pattern_a_x200_us: round(perCall(() => Glob.compile(issue, { questionMark: false }).matches(a200))),
    twelve_stars_a_x200_us: round(perCall(() => Glob.compile('a*a*a*a*a*a*a*a*a*a*a*a*b', { questionMark: false }).matches(a200))),
    // The worst case of the two-pointer walk: a long near-miss after a star, tried at every position (n·m).
    near_miss_127_over_a_x255_us: round(perCall(() => Glob.compile('*' + 'a'.repeat(126) + 'b', { questionMark: false }).matches(a255))),
    typical_m_room_star_us: round(perCall(() => Glob.compile('m.room.*', { questionMark: false }).matches('m.room.message'))),
  };

  progress('request bodies');
  const event = JSON.stringify({ msgtype: 'm.text', body: 'hello 😀 '.repeat(20), n: 12345, nested: { list: [1, 2, 3], s: 'x' } });
  const oneMiB = new TextEncoder().encode(`{"items":[${Array.from({ length: 4000 }, () => event).join(',')}]}`);
  const deep = new TextEncoder().encode('['.repeat(512 * 1024));
  const text = new TextDecoder().decode(oneMiB);
  const bodies = {
    body_1_mib_strict_ms: round(perCall(() => parseStrictJson(oneMiB), 1000) / 1000),
    body_1_mib_json_parse_ms: round(perCall(() => JSON.parse(new TextDecoder().decode(oneMiB)) as unknown, 1000) / 1000),
    nested_512k_refused_ms: round(
      perCall(() => {
        try {
          parseStrictJson(deep);
        } catch {
          // refused, as it should be
        }
      }, 500) / 1000,
    ),
    nested_512k_json_parse_ms: round(perCall(() => {
      try {
        JSON.parse(new TextDecoder().decode(deep));
      } catch {
        // JSON.parse refuses it only after building half a million arrays
      }
    }, 500) / 1000),
    body_bytes: text.length,
  };
  return { glob_regexp_before_ms: regexpMs, glob_linear: glob, strict_json: bodies };
}
