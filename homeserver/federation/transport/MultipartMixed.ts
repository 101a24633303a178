// The multipart/mixed body of federation media downloads (spec v1.11, RFC 2046): exactly two parts, the
// first `application/json` metadata (an empty object today), the second the media's bytes with their
// Content-Type and Content-Disposition (or a Location header instead, which this server does not send
// and does not follow).
import { randomBytes } from 'node:crypto';

export interface MultipartPart {
  /** Header names lower-cased. */
  headers: Record<string, string>;
  body: Buffer;
}

const CRLF = Buffer.from('\r\n');

/** The body and its Content-Type header for one JSON part and one media part. */
export function multipartMixedBody(metadata: unknown, media: { headers: Record<string, string>; body: Buffer }): { contentType: string; body: Buffer } {
  const boundary = randomBytes(16).toString('hex');
  const head = (headers: Record<string, string>): Buffer =>
    Buffer.from(`--${boundary}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
  const body = Buffer.concat([
    head({ 'Content-Type': 'application/json' }),
    Buffer.from(JSON.stringify(metadata)),
    CRLF,
    head(media.headers),
    media.body,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { contentType: `multipart/mixed; boundary=${boundary}`, body };
}

/** The boundary parameter of a multipart Content-Type, or null. */
export function multipartBoundary(contentType: string | null): string | null {
  if (contentType === null || !/^\s*multipart\/mixed\s*;/i.test(contentType)) return null;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2])! : null;
}

/** The parts of a multipart body; null when it is not well formed. */
export function parseMultipart(body: Buffer, boundary: string): MultipartPart[] | null {
  const delimiter = Buffer.from(`--${boundary}`);
  const next = Buffer.from(`\r\n--${boundary}`);
  let at = body.indexOf(delimiter);
  if (at < 0) return null;
  at += delimiter.length;
  const parts: MultipartPart[] = [];
  for (;;) {
    if (body.subarray(at, at + 2).toString() === '--') return parts;
    const lineEnd = body.indexOf(CRLF, at);
    if (lineEnd < 0) return null;
    const start = lineEnd + 2;
    const end = body.indexOf(next, start);
    if (end < 0) return null;
    const part = body.subarray(start, end);
    // A part without headers starts with its blank line.
    const bare = part.indexOf(CRLF) === 0;
    const split = bare ? -2 : part.indexOf('\r\n\r\n');
    if (!bare && split < 0) return null;
    const headerText = bare ? '' : part.subarray(0, split).toString('latin1');
    const headers: Record<string, string> = {};
    for (const line of headerText.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    parts.push({ headers, body: part.subarray(split + 4) });
    if (parts.length > 16) return null;
    at = end + next.length;
  }
}
