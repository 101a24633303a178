// sip.js parses every header, URI and first line with a peggy parser whose rule bytecode (about 230
// strings) is decoded afresh inside each call to `parse`: about 1 ms of CPU per header, several ms per
// SIP message, all of it on the process's one thread (the homeserver and the host share it). This builds
// the same parser from sip.js's own file with that table decoded once, and puts it behind sip.js's
// `Grammar.parse`, which every sip.js module calls through. The parser code is sip.js's, unchanged: only
// the place of the table moves. If the file does not have the shape this expects, or the rebuilt parser
// answers a sample differently, sip.js keeps its own parser.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Grammar, NameAddrHeader, URI } from 'sip.js';

type PegParse = (input: string, options: { startRule?: string; data?: unknown }) => unknown;

export type GrammarSpeedup = { installed: true } | { installed: false; reason: string };

const TABLE_START = '\n    const peg$bytecode = [\n';
const TABLE_END = '\n    ];\n';
const IMPORTS = ['import { NameAddrHeader } from "../../name-addr-header.js";\n', 'import { URI } from "../../uri.js";\n'];
const EXPORTS = ['export class SyntaxError ', 'export const parse = peg$parse;'];
const DECODE = 'function peg$decode(s) {\n        return s.split("").map((ch) => ch.charCodeAt(0) - 32);\n    }';

/** Inputs the rebuilt parser must read exactly as sip.js's own does before it takes over. */
const SAMPLES: Array<[string, string]> = [
  ['SIP/2.0 200 OK', 'Request_Response'],
  ['INVITE sip:+14155550100@sip.example.org;user=phone SIP/2.0', 'Request_Response'],
  ['"Alice Example" <sip:alice@example.org:5070;transport=tcp>;tag=a1b2', 'Name_Addr_Header'],
  ['sip:+14155550100@[2001:db8::1]:5060;lr', 'SIP_URI'],
  ['SIP/2.0/WSS abc.invalid;branch=z9hG4bK776;received=127.0.0.1;rport=5060', 'Via'],
  ['<sip:bob@192.0.2.4>;expires=600, "Bob" <sip:bob@example.org>', 'Contact'],
  ['Digest realm="example.org", nonce="abc", qop="auth", algorithm=MD5', 'Proxy_Authenticate'],
  ['not a uri', 'SIP_URI'],
];

let outcome: GrammarSpeedup | null = null;

/** Installs the faster parser once per process; later calls return the first outcome. */
export function speedUpSipGrammar(): GrammarSpeedup {
  outcome ??= install();
  return outcome;
}

function install(): GrammarSpeedup {
  let source: string;
  try {
    const sipJs = createRequire(import.meta.url).resolve('sip.js');
    source = readFileSync(join(dirname(sipJs), 'grammar', 'pegjs', 'dist', 'grammar.js'), 'utf8');
  } catch (err) {
    return { installed: false, reason: `sip.js's grammar file was not found: ${err instanceof Error ? err.message : String(err)}` };
  }
  const fast = rebuildSipParser(source);
  if (typeof fast === 'string') return { installed: false, reason: fast };
  const original = Grammar.parse;
  const parse = (input: string, startRule: string): unknown => {
    const options: { startRule: string; data?: unknown } = { startRule };
    try {
      fast(input, options);
    } catch {
      options.data = -1;
    }
    return options.data;
  };
  for (const [input, rule] of SAMPLES) {
    if (!sameResult(original(input, rule), parse(input, rule))) return { installed: false, reason: `the rebuilt parser reads ${rule} "${input}" differently` };
  }
  (Grammar as { parse: typeof parse }).parse = parse;
  return { installed: true };
}

/** sip.js's parser module with its bytecode table moved to module scope, or why that could not be done. */
export function rebuildSipParser(source: string): PegParse | string {
  const start = source.indexOf(TABLE_START);
  const end = start < 0 ? -1 : source.indexOf(TABLE_END, start);
  const parseAt = source.indexOf('\nfunction peg$parse(input, options) {\n');
  if (start < 0 || end < 0 || parseAt < 0 || parseAt > start || !source.includes(DECODE) || source.indexOf('peg$bytecode', end) < 0) {
    return 'sip.js\'s grammar file does not have the expected shape (another sip.js version?)';
  }
  for (const line of [...IMPORTS, ...EXPORTS]) if (!source.includes(line)) return `sip.js's grammar file lacks "${line.trim()}"`;
  const table = source.slice(start + 1, end + TABLE_END.length);
  let body = source.slice(0, start + 1) + source.slice(end + TABLE_END.length);
  // Function replacers: the table holds `$'` and `$&`, which a replacement string would expand.
  body = body.replace('\nfunction peg$parse(input, options) {\n', () => `\n${DECODE.replace(/\n {4}/g, '\n')}\n${table}function peg$parse(input, options) {\n`);
  for (const line of IMPORTS) body = body.replace(line, () => '');
  body = body.replace(EXPORTS[0]!, () => 'class SyntaxError ').replace(EXPORTS[1]!, () => '');
  try {
    // The module's code, as a function of the two classes it imports (sip.js's own, the same instances).
    const factory = new Function('NameAddrHeader', 'URI', `'use strict';\n${body}\nreturn peg$parse;`) as (n: unknown, u: unknown) => PegParse;
    return factory(NameAddrHeader, URI);
  } catch (err) {
    return `the rebuilt parser does not load: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Results compared as sip.js uses them: class, and every field (URIs and name-addrs print the same). */
function sameResult(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return a === b;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof URI || a instanceof NameAddrHeader) return a.toString() === String(b);
  return JSON.stringify(a) === JSON.stringify(b);
}
