// IRC text with mIRC formatting codes -> Matrix `body` (codes stripped) and `formatted_body` (HTML), the
// HTML built from escaped text only and then passed through sanitize-html as a second guard.
import sanitizeHtml from 'sanitize-html';
import { sanitizeIncomingText } from './IrcTextSanitizer.js';

/** The 16 standard mIRC colours (the extended 16-98 palette is rendered uncoloured). */
export const MIRC_COLORS = [
  '#ffffff', '#000000', '#00007f', '#009300', '#ff0000', '#7f0000', '#9c009c', '#fc7f00',
  '#ffff00', '#00fc00', '#009393', '#00ffff', '#0000fc', '#ff00ff', '#7f7f7f', '#d2d2d2',
] as const;

export interface MatrixText {
  body: string;
  /** null when the line had no formatting (plain `body` is enough). */
  html: string | null;
}

interface Style {
  bold: boolean;
  italic: boolean;
  underline: boolean;
  strike: boolean;
  mono: boolean;
  fg: string | null;
  bg: string | null;
}

const plain = (): Style => ({ bold: false, italic: false, underline: false, strike: false, mono: false, fg: null, bg: null });

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function colorOf(code: string | undefined): string | null {
  if (code === undefined || code === '') return null;
  return MIRC_COLORS[Number(code)] ?? null;
}

function wrap(text: string, s: Style): string {
  let html = escapeHtml(text);
  if (s.mono) html = `<code>${html}</code>`;
  if (s.strike) html = `<del>${html}</del>`;
  if (s.underline) html = `<u>${html}</u>`;
  if (s.italic) html = `<i>${html}</i>`;
  if (s.bold) html = `<b>${html}</b>`;
  if (s.fg !== null || s.bg !== null) {
    const fg = s.fg !== null ? ` data-mx-color="${s.fg}"` : '';
    const bg = s.bg !== null ? ` data-mx-bg-color="${s.bg}"` : '';
    html = `<font${fg}${bg}>${html}</font>`;
  }
  return html;
}

const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: ['b', 'i', 'u', 'del', 'code', 'font', 'a'],
  allowedAttributes: { font: ['data-mx-color', 'data-mx-bg-color'], a: ['href'] },
  allowedSchemes: ['https', 'http', 'mailto'],
};

/** Parses mIRC codes. `body` keeps the text only; `html` is null when nothing was formatted. */
export function mircToMatrix(input: string): MatrixText {
  const text = sanitizeIncomingText(input);
  let body = '';
  let html = '';
  let formatted = false;
  let style = plain();
  let run = '';
  const flush = (): void => {
    if (run === '') return;
    body += run;
    html += wrap(run, style);
    run = '';
  };
  const set = (next: Partial<Style>): void => {
    flush();
    style = { ...style, ...next };
    formatted = true;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    switch (ch) {
      case '\x02': set({ bold: !style.bold }); break;
      case '\x1d': set({ italic: !style.italic }); break;
      case '\x1f': set({ underline: !style.underline }); break;
      case '\x1e': set({ strike: !style.strike }); break;
      case '\x11': set({ mono: !style.mono }); break;
      // Reverse video has no Matrix equivalent: swap nothing, just consume it.
      case '\x16': flush(); break;
      case '\x0f': set(plain()); break;
      case '\x03': {
        const m = /^\x03(\d{1,2})?(?:,(\d{1,2}))?/.exec(text.slice(i)) as RegExpExecArray;
        // `\x03,5` is not a colour: the comma is text.
        const consumed = m[1] === undefined ? 1 : m[0].length;
        if (m[1] === undefined) set({ fg: null, bg: null });
        else set({ fg: colorOf(m[1]), bg: m[2] !== undefined ? colorOf(m[2]) : style.bg });
        i += consumed - 1;
        break;
      }
      case '\x04': {
        const m = /^\x04([0-9a-fA-F]{6})?(?:,([0-9a-fA-F]{6}))?/.exec(text.slice(i)) as RegExpExecArray;
        const consumed = m[1] === undefined ? 1 : m[0].length;
        if (m[1] === undefined) set({ fg: null, bg: null });
        else set({ fg: `#${m[1].toLowerCase()}`, bg: m[2] !== undefined ? `#${m[2].toLowerCase()}` : style.bg });
        i += consumed - 1;
        break;
      }
      default:
        run += ch;
    }
  }
  flush();
  if (!formatted || html === escapeHtml(body)) return { body, html: null };
  return { body, html: sanitizeHtml(html, SANITIZE) };
}
