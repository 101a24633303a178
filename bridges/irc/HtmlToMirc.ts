// Matrix `formatted_body` -> IRC text with mIRC codes. The HTML is first reduced by sanitize-html to the
// tags Matrix allows (scripts, styles and reply fallbacks dropped with their content), then walked with
// htmlparser2. Block elements become separate lines; each line re-opens the formatting still in effect
// because IRC clients reset formatting at every line.
import { Parser } from 'htmlparser2';
import sanitizeHtml from 'sanitize-html';
import { MIRC_COLORS } from './MircToHtml.js';

export interface HtmlToMircOptions {
  /** The IRC nick for a Matrix user pill (ghost or puppet), or null to keep the pill's text. */
  mentionNick?: (userId: string) => string | null;
}

const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: [
    'font', 'del', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'p', 'a', 'ul', 'ol', 'sup', 'sub', 'li',
    'b', 'i', 'u', 'strong', 'em', 's', 'strike', 'code', 'hr', 'br', 'div', 'table', 'thead', 'tbody', 'tr', 'th',
    'td', 'caption', 'pre', 'span', 'img', 'details', 'summary', 'ins',
  ],
  allowedAttributes: {
    font: ['data-mx-color', 'data-mx-bg-color', 'color'],
    span: ['data-mx-color', 'data-mx-bg-color', 'data-mx-spoiler'],
    a: ['href'],
    img: ['alt', 'src'],
    ol: ['start'],
  },
  allowedSchemes: ['https', 'http', 'ftp', 'mailto', 'magnet', 'mxc'],
  nonTextTags: ['style', 'script', 'textarea', 'option', 'noscript', 'mx-reply'],
};

type Toggle = 'bold' | 'italic' | 'underline' | 'strike' | 'mono';
const TOGGLE_CODE: Record<Toggle, string> = { bold: '\x02', italic: '\x1d', underline: '\x1f', strike: '\x1e', mono: '\x11' };
const TAG_TOGGLE: Record<string, Toggle> = {
  b: 'bold', strong: 'bold', h1: 'bold', h2: 'bold', h3: 'bold', h4: 'bold', h5: 'bold', h6: 'bold', th: 'bold',
  i: 'italic', em: 'italic', u: 'underline', ins: 'underline', del: 'strike', s: 'strike', strike: 'strike', code: 'mono',
};
const BLOCK = new Set(['p', 'div', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'pre', 'ul', 'ol', 'li', 'tr', 'table', 'hr', 'details', 'summary', 'caption']);

/** Nearest of the 16 standard colours (as a two-digit code) to a `#rrggbb` value. */
export function nearestMircColor(hex: string): string | null {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex.trim());
  if (m === null) return null;
  const [r, g, b] = [m[1], m[2], m[3]].map((h) => parseInt(h as string, 16)) as [number, number, number];
  let best = 0;
  let bestDistance = Infinity;
  MIRC_COLORS.forEach((c, i) => {
    const d = (parseInt(c.slice(1, 3), 16) - r) ** 2 + (parseInt(c.slice(3, 5), 16) - g) ** 2 + (parseInt(c.slice(5, 7), 16) - b) ** 2;
    if (d < bestDistance) {
      bestDistance = d;
      best = i;
    }
  });
  return String(best).padStart(2, '0');
}

function matrixToUserId(href: string): string | null {
  const m = /^https:\/\/matrix\.to\/#\/([^/?]+)/.exec(href);
  if (m === null) return null;
  try {
    const id = decodeURIComponent(m[1] as string);
    return id.startsWith('@') ? id : null;
  } catch {
    return null;
  }
}

interface OpenTag {
  name: string;
  toggle?: Toggle;
  color?: string;
  href?: string;
  pillUser?: string;
  text: string;
}

/** A loop, not `/ +$/`: that regex backtracks quadratically over a long run of spaces inside a line. */
function withoutTrailingSpaces(line: string): string {
  let end = line.length;
  while (end > 0 && line.charCodeAt(end - 1) === 0x20) end--;
  return line.slice(0, end);
}

export function htmlToMirc(html: string, options: HtmlToMircOptions = {}): string {
  const clean = sanitizeHtml(html, SANITIZE);
  const lines: string[] = [];
  let line = '';
  const depth: Record<Toggle, number> = { bold: 0, italic: 0, underline: 0, strike: 0, mono: 0 };
  const colors: string[] = [];
  const stack: OpenTag[] = [];
  const lists: Array<{ ordered: boolean; next: number }> = [];
  let quote = 0;
  let pre = 0;
  let lineStarted = false;

  const active = (): string =>
    (Object.keys(depth) as Toggle[]).filter((t) => depth[t] > 0).map((t) => TOGGLE_CODE[t]).join('') +
    (colors.length > 0 ? `\x03${colors[colors.length - 1]}` : '');

  const emit = (text: string): void => {
    if (text === '') return;
    if (!lineStarted) {
      line = '> '.repeat(quote) + active();
      lineStarted = true;
    }
    line += text;
    for (const open of stack) if (open.pillUser !== undefined || open.href !== undefined) open.text += text;
  };
  const code = (c: string): void => {
    if (lineStarted) line += c;
  };
  const newline = (force = false): void => {
    if (lineStarted || force) lines.push(lineStarted ? withoutTrailingSpaces(line) : '> '.repeat(quote).trimEnd());
    line = '';
    lineStarted = false;
  };

  const parser = new Parser(
    {
      onopentag(name, attrs) {
        const tag: OpenTag = { name, text: '' };
        if (BLOCK.has(name) && lineStarted) newline();
        if (name === 'br') {
          newline(true);
          return;
        }
        if (name === 'hr') {
          emit('----');
          newline();
        }
        if (name === 'blockquote') quote++;
        if (name === 'pre') pre++;
        if (name === 'ul' || name === 'ol') lists.push({ ordered: name === 'ol', next: Number(attrs.start ?? 1) || 1 });
        if (name === 'li') {
          const list = lists[lists.length - 1];
          const indent = '  '.repeat(Math.max(0, lists.length - 1));
          emit(indent + (list?.ordered === true ? `${list.next++}. ` : '• '));
        }
        if (name === 'img') emit(attrs.alt !== undefined && attrs.alt !== '' ? `[${attrs.alt}]` : '[image]');
        const toggle = TAG_TOGGLE[name];
        // Code inside <pre> is a block: no monospace toggles on every line.
        if (toggle !== undefined && !(toggle === 'mono' && pre > 0)) {
          tag.toggle = toggle;
          if (depth[toggle]++ === 0) code(TOGGLE_CODE[toggle]);
        }
        const colorAttr = attrs['data-mx-color'] ?? attrs.color;
        const color = colorAttr !== undefined ? nearestMircColor(colorAttr) : null;
        if (color !== null) {
          tag.color = color;
          colors.push(color);
          code(`\x03${color}`);
        }
        if (name === 'a' && attrs.href !== undefined) {
          const userId = matrixToUserId(attrs.href);
          if (userId !== null) tag.pillUser = userId;
          else tag.href = attrs.href;
          // A pill's text is replaced by the nick, so it is collected instead of emitted.
          if (userId !== null) tag.text = '';
        }
        stack.push(tag);
      },
      ontext(raw) {
        const text = pre > 0 ? raw : raw.replace(/\s+/g, ' ');
        const pill = stack.find((t) => t.pillUser !== undefined);
        if (pill !== undefined) {
          pill.text += text;
          return;
        }
        if (pre > 0) {
          const parts = text.split('\n');
          parts.forEach((part, i) => {
            if (i > 0) newline(true);
            emit(part);
          });
          return;
        }
        emit(lineStarted ? text : text.replace(/^ /, ''));
      },
      onclosetag(name) {
        if (name === 'br' || name === 'img' || name === 'hr') {
          if (stack[stack.length - 1]?.name === name) stack.pop();
          return;
        }
        const index = stack.map((t) => t.name).lastIndexOf(name);
        if (index === -1) return;
        const [tag] = stack.splice(index, 1) as [OpenTag];
        if (tag.pillUser !== undefined) {
          const nick = options.mentionNick?.(tag.pillUser) ?? null;
          emit(nick ?? tag.text);
        } else if (tag.href !== undefined) {
          const href = tag.href;
          const text = tag.text.trim();
          if (text !== '' && text !== href && !href.startsWith('mailto:') && text !== href.replace(/^https?:\/\//, '')) emit(` (${href})`);
          else if (text === '') emit(href);
        }
        if (tag.toggle !== undefined && --depth[tag.toggle] === 0) code(TOGGLE_CODE[tag.toggle]);
        if (tag.color !== undefined) {
          colors.pop();
          code(colors.length > 0 ? `\x03${colors[colors.length - 1]}` : '\x03');
        }
        if (name === 'blockquote') {
          if (lineStarted) newline();
          quote--;
        }
        if (name === 'pre') pre--;
        if (name === 'ul' || name === 'ol') lists.pop();
        if (BLOCK.has(name) && lineStarted) newline();
      },
    },
    { decodeEntities: true, lowerCaseTags: true },
  );
  parser.write(clean);
  parser.end();
  if (lineStarted) newline();
  // Drop trailing blank lines and collapse runs of blank lines.
  const out: string[] = [];
  for (const l of lines) {
    const blank = l.replace(/^(> )*/, '').trim() === '' && l.trim() === '';
    if (blank && (out.length === 0 || out[out.length - 1] === '')) continue;
    out.push(blank ? '' : l);
  }
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out.join('\n');
}
