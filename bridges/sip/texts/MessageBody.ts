// What a SIP MESSAGE says, whatever its wrapping: plain text, a CPIM envelope (RCS, some SMS gateways),
// or a multipart body (MMS-style: text parts joined, base64 parts kept as files).

export interface IncomingFile {
  mimetype: string;
  filename: string;
  bytes: Buffer;
}

export interface IncomingText {
  text: string;
  files: IncomingFile[];
}

interface Part {
  headers: Map<string, string>;
  body: string;
}

const MAX_DEPTH = 4;

/** The text and files of a MESSAGE body, or null when it holds neither. */
export function readMessageBody(contentType: string | undefined, body: string): IncomingText | null {
  const out: IncomingText = { text: '', files: [] };
  collect(contentType ?? 'text/plain', body, 'base', out, 0);
  out.text = out.text.trim();
  return out.text === '' && out.files.length === 0 ? null : out;
}

function collect(contentType: string, body: string, encoding: string, out: IncomingText, depth: number): void {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (depth > MAX_DEPTH) return;
  if (type === 'message/cpim') {
    // CPIM: envelope headers, a blank line, the inner MIME headers, a blank line, the content.
    const [, inner = ''] = splitHead(body);
    const part = parsePart(inner);
    collect(part.headers.get('content-type') ?? 'text/plain', part.body, part.headers.get('content-transfer-encoding') ?? 'base', out, depth + 1);
    return;
  }
  if (type.startsWith('multipart/')) {
    const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
    if (!boundary) return;
    const parts = splitMultipart(body, boundary).map(parsePart);
    const chosen = type === 'multipart/alternative' ? [parts.find((p) => (p.headers.get('content-type') ?? 'text/plain').startsWith('text/plain')) ?? parts[0]].filter((p): p is Part => p !== undefined) : parts;
    for (const p of chosen) collect(p.headers.get('content-type') ?? 'text/plain', p.body, p.headers.get('content-transfer-encoding') ?? 'base', out, depth + 1);
    return;
  }
  const decoded = encoding.toLowerCase() === 'base64' ? Buffer.from(body.replace(/\s+/g, ''), 'base64') : Buffer.from(body, 'utf8');
  if (type.startsWith('text/') && type !== 'text/html') {
    out.text += (out.text === '' ? '' : '\n') + decoded.toString('utf8');
    return;
  }
  if (encoding.toLowerCase() === 'base64' && decoded.length > 0) {
    const filename = /name="?([^";]+)"?/i.exec(contentType)?.[1] ?? `attachment-${out.files.length + 1}`;
    out.files.push({ mimetype: type, filename, bytes: decoded });
  }
}

function splitHead(text: string): [string, string] {
  const m = /\r?\n\r?\n/.exec(text);
  if (!m) return [text, ''];
  return [text.slice(0, m.index), text.slice(m.index + m[0].length)];
}

function parsePart(text: string): Part {
  const [head, body] = splitHead(text);
  const headers = new Map<string, string>();
  for (const line of head.split(/\r?\n/)) {
    const m = /^([A-Za-z-]+)\s*:\s*(.*)$/.exec(line);
    if (m) headers.set(m[1]!.toLowerCase(), m[2]!.trim());
  }
  return { headers, body: body.replace(/\r?\n$/, '') };
}

function splitMultipart(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`;
  const parts: string[] = [];
  for (const chunk of body.split(delimiter).slice(1)) {
    if (chunk.startsWith('--')) break;
    parts.push(chunk.replace(/^\r?\n/, ''));
  }
  return parts;
}
