// Cuts text into IRC lines that fit the protocol's 512-byte limit (CRLF and the prefix the server adds
// when relaying included), counting UTF-8 bytes, never cutting inside a character or a grapheme cluster
// where it can avoid it, preferring word boundaries, and re-opening mIRC formatting that a cut closed.

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
const encoder = new TextEncoder();

export function utf8Length(text: string): number {
  // Fast path: pure ASCII is one byte per UTF-16 unit.
  return /^[\x00-\x7f]*$/.test(text) ? text.length : encoder.encode(text).length;
}

/** 63 is the longest DNS label; hosts are often longer, so the budget uses the host we were really given. */
const UNKNOWN_HOST_BYTES = 63;
const UNKNOWN_USER_BYTES = 10;

export interface LineBudgetInput {
  nick: string;
  /** Username and host as the server shows them (`~alice`, `127.0.0.1`); unknown until registered. */
  user?: string;
  host?: string;
  command: 'PRIVMSG' | 'NOTICE';
  target: string;
  /** CTCP ACTION wraps the text in `\x01ACTION ...\x01`. */
  action?: boolean;
}

/** Bytes left for the text of one message: 512 - CRLF - `:nick!user@host CMD target :` (as relayed). */
export function textByteBudget(input: LineBudgetInput): number {
  const user = input.user !== undefined ? utf8Length(input.user) : UNKNOWN_USER_BYTES;
  const host = input.host !== undefined ? utf8Length(input.host) : UNKNOWN_HOST_BYTES;
  const prefix = 1 + utf8Length(input.nick) + 1 + user + 1 + host + 1;
  const command = utf8Length(input.command) + 1 + utf8Length(input.target) + 2;
  const ctcp = input.action === true ? 9 : 0;
  return Math.max(32, 510 - prefix - command - ctcp);
}

interface FormatState {
  bold: boolean;
  italic: boolean;
  underline: boolean;
  strike: boolean;
  mono: boolean;
  reverse: boolean;
  /** The colour code as written (`\x0304,02` or `\x04ff0000`), or '' for none. */
  color: string;
}

const emptyState = (): FormatState => ({
  bold: false,
  italic: false,
  underline: false,
  strike: false,
  mono: false,
  reverse: false,
  color: '',
});

const COLOR_RE = /^\x03(\d{1,2}(,\d{1,2})?)?/;
const HEX_COLOR_RE = /^\x04([0-9a-fA-F]{6}(,[0-9a-fA-F]{6})?)?/;

/** Applies the formatting codes in `text` to `state`. */
function advance(state: FormatState, text: string): void {
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    switch (ch) {
      case '\x02': state.bold = !state.bold; break;
      case '\x1d': state.italic = !state.italic; break;
      case '\x1f': state.underline = !state.underline; break;
      case '\x1e': state.strike = !state.strike; break;
      case '\x11': state.mono = !state.mono; break;
      case '\x16': state.reverse = !state.reverse; break;
      case '\x0f': Object.assign(state, emptyState()); break;
      case '\x03':
      case '\x04': {
        const m = (ch === '\x03' ? COLOR_RE : HEX_COLOR_RE).exec(text.slice(i));
        const code = m?.[0] ?? ch;
        state.color = code.length > 1 ? code : '';
        i += code.length - 1;
        break;
      }
      default:
    }
  }
}

function reopen(state: FormatState): string {
  return (
    (state.bold ? '\x02' : '') +
    (state.italic ? '\x1d' : '') +
    (state.underline ? '\x1f' : '') +
    (state.strike ? '\x1e' : '') +
    (state.mono ? '\x11' : '') +
    (state.reverse ? '\x16' : '') +
    state.color
  );
}

/** The longest re-open sequence: six toggles and `\x04rrggbb,rrggbb`. */
const REOPEN_RESERVE = 6 + 14;

/**
 * Splits `text` (already sanitised: LF is the only line break) into lines of at most `maxBytes` UTF-8
 * bytes. Empty lines are dropped (IRC cannot send them). A colour code is never cut from its digits.
 */
export function splitIrcText(text: string, maxBytes: number): string[] {
  if (maxBytes < 8) throw new RangeError('maxBytes too small');
  const lines: string[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    if (utf8Length(raw) <= maxBytes) {
      lines.push(raw);
      continue;
    }
    const formatted = /[\x02\x03\x04\x0f\x11\x16\x1d\x1e\x1f]/.test(raw);
    const budget = formatted ? Math.max(8, maxBytes - REOPEN_RESERVE) : maxBytes;
    const state = emptyState();
    let prefix = '';
    for (const chunk of cutLine(raw, budget)) {
      const line = prefix + chunk;
      advance(state, chunk);
      prefix = formatted ? reopen(state) : '';
      if (line.trim() !== '') lines.push(line);
    }
  }
  return lines;
}

/** Units the cutter must keep whole: grapheme clusters, and a colour code together with its digits. */
function units(line: string): string[] {
  const out: string[] = [];
  let pending = '';
  for (const { segment } of segmenter.segment(line)) {
    if (pending !== '') {
      const candidate = pending + segment;
      const re = pending.startsWith('\x03') ? /^\x03(\d{1,2}(,\d{0,2})?)?$/ : /^\x04([0-9a-fA-F]{0,6}(,[0-9a-fA-F]{0,6})?)?$/;
      if (re.test(candidate)) {
        pending = candidate;
        continue;
      }
      out.push(pending);
      pending = '';
    }
    if (segment === '\x03' || segment === '\x04') pending = segment;
    else out.push(segment);
  }
  if (pending !== '') out.push(pending);
  return out;
}

/** Splits one over-long unit (a pathological grapheme, e.g. thousands of combining marks) by code point. */
function* cutByCodePoint(unit: string, maxBytes: number): Generator<string> {
  let current = '';
  let bytes = 0;
  for (const cp of unit) {
    const n = utf8Length(cp);
    if (bytes + n > maxBytes && current !== '') {
      yield current;
      current = '';
      bytes = 0;
    }
    current += cp;
    bytes += n;
  }
  if (current !== '') yield current;
}

function* cutLine(line: string, maxBytes: number): Generator<string> {
  let parts: string[] = [];
  let bytes = 0;
  /** Index in `parts` of the last space, to break between words. */
  let lastSpace = -1;
  for (const unit of units(line)) {
    const n = utf8Length(unit);
    if (n > maxBytes) {
      if (parts.length > 0) yield parts.join('');
      parts = [];
      bytes = 0;
      lastSpace = -1;
      yield* cutByCodePoint(unit, maxBytes);
      continue;
    }
    if (bytes + n > maxBytes) {
      // Break at the last space unless that would leave a tiny first line (then break mid-word).
      if (lastSpace > 0 && lastSpace >= parts.length / 3) {
        yield parts.slice(0, lastSpace).join('');
        parts = parts.slice(lastSpace + 1);
      } else {
        yield parts.join('');
        parts = [];
      }
      bytes = utf8Length(parts.join(''));
      lastSpace = parts.lastIndexOf(' ');
      // The space we broke at does not start the next line.
      if (unit === ' ' && parts.length === 0) continue;
    }
    if (unit === ' ') lastSpace = parts.length;
    parts.push(unit);
    bytes += n;
  }
  if (parts.length > 0) yield parts.join('');
}
