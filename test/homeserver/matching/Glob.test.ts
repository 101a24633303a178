// The linear glob matcher: the same answers as a RegExp on small inputs (a seeded property run), and the
// inputs that made a RegExp backtrack for ever answered at once.
import { describe, expect, it } from '@jest/globals';
import { Glob, type GlobOptions } from '../../../homeserver/matching/Glob.js';
import { GlobList } from '../../../homeserver/matching/GlobList.js';
import { SeededRandom } from '../../harness/SeededRandom.js';

/** The reference: a RegExp built from the glob, fine for short values (it is exponential on long ones). */
function oracle(pattern: string, value: string, o: GlobOptions): boolean {
  const p = o.caseInsensitive ? pattern.toLowerCase() : pattern;
  const v = o.caseInsensitive ? value.toLowerCase() : value;
  let body = '';
  for (const ch of p) {
    if (ch === '*') body += '.*';
    else if (ch === '?' && o.questionMark) body += '.';
    else body += ch.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
  }
  const re = o.wordBoundary ? new RegExp(`(?:^|[^A-Za-z0-9_])${body}(?:[^A-Za-z0-9_]|$)`, 'su') : new RegExp(`^${body}$`, 'su');
  return re.test(v);
}

describe('Glob', () => {
  it('matches * as any run and ? as one character (push rules) or a literal ? (filters)', () => {
    const push = { questionMark: true };
    const filter = { questionMark: false };
    expect(Glob.compile('m.room.*', filter).matches('m.room.message')).toBe(true);
    expect(Glob.compile('m.room.*', filter).matches('m.roomy')).toBe(false);
    expect(Glob.compile('*', filter).matches('')).toBe(true);
    expect(Glob.compile('m.*.member', filter).matches('m.room.member')).toBe(true);
    expect(Glob.compile('m.?', filter).matches('m.x')).toBe(false);
    expect(Glob.compile('m.?', filter).matches('m.?')).toBe(true);
    expect(Glob.compile('m.?', push).matches('m.x')).toBe(true);
    expect(Glob.compile('m.?', push).matches('m.')).toBe(false);
    // One character is one code point, not one UTF-16 unit.
    expect(Glob.compile('a?b', push).matches('a😀b')).toBe(true);
    expect(Glob.compile('a??b', push).matches('a😀b')).toBe(false);
    // Regex metacharacters are plain characters.
    expect(Glob.compile('a.b', filter).matches('axb')).toBe(false);
    expect(Glob.compile('(a+)+$', filter).matches('(a+)+$')).toBe(true);
  });

  it('matches case-insensitively and on word boundaries as push rules need', () => {
    const body = { questionMark: true, caseInsensitive: true, wordBoundary: true };
    expect(Glob.compile('alice', body).matches('Hi ALICE!')).toBe(true);
    expect(Glob.compile('alice', body).matches('malice aforethought')).toBe(false);
    expect(Glob.compile('alice', body).matches('alice')).toBe(true);
    expect(Glob.compile('ali*', body).matches('say alicia.')).toBe(true);
    expect(Glob.compile('@room', body).matches('hey @room')).toBe(true);
    expect(Glob.compile('@room', body).matches('x@room')).toBe(false);
    expect(Glob.compile('@room', body).matches('@roomy')).toBe(false);
    expect(Glob.compile('Lunch', { questionMark: true, caseInsensitive: true }).matches('LUNCH')).toBe(true);
  });

  it('gives the same answers as a RegExp on 20,000 seeded random patterns and values', () => {
    const rnd = new SeededRandom(7);
    const variants: GlobOptions[] = [
      { questionMark: false },
      { questionMark: true },
      { questionMark: true, caseInsensitive: true },
      { questionMark: true, wordBoundary: true },
      { questionMark: true, caseInsensitive: true, wordBoundary: true },
    ];
    for (let i = 0; i < 20_000; i++) {
      const o = variants[i % variants.length]!;
      const pattern = rnd.string('ab*?. A😀', 7);
      const value = rnd.string('abAB. ?*😀', 9);
      const got = Glob.compile(pattern, o).matches(value);
      if (got !== oracle(pattern, value, o)) {
        throw new Error(`seed 7 case ${i}: ${JSON.stringify({ pattern, value, o })} gave ${got}`);
      }
    }
  });

  it('answers the patterns that froze a RegExp (issue 7: a*a*a*a*a*b against 200 a) correctly, 1,000 times over', () => {
    // A RegExp needed about 20 s for one of these (each extra * multiplies that); 1,000 rounds here run
    // in well under a second (bench/input.ts measures it).
    const a200 = 'a'.repeat(200);
    const cases: Array<[string, string, boolean]> = [
      ['a*a*a*a*a*b', a200, false],
      ['a*a*a*a*a*a*a*a*a*a*b', a200, false],
      ['a*a*a*a*a*b', a200 + 'b', true],
      ['*a*a*a*a*a*a*', a200, true],
      ['*' + 'a'.repeat(100) + 'b*', a200, false],
      ['?*?*?*?*?*?*?*?*?*c', a200, false],
    ];
    for (let round = 0; round < 1_000; round++) {
      for (const [pattern, value, expected] of cases) {
        expect(Glob.compile(pattern, { questionMark: true }).matches(value)).toBe(expected);
      }
    }
  });

  it('remembers answers per value in a GlobList', () => {
    const list = new GlobList(['m.room.*', 'org.example.*'], { questionMark: false });
    expect(list.matchesAny('m.room.message')).toBe(true);
    expect(list.matchesAny('m.room.message')).toBe(true);
    expect(list.matchesAny('m.call.invite')).toBe(false);
    expect(new GlobList([], { questionMark: false }).isEmpty).toBe(true);
  });
});
