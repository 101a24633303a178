// How a download is presented (Client-Server API, "Serving inline content", v1.12): inline only for the
// content types the spec lists as safe to render, as an attachment otherwise, so an uploaded HTML page or
// SVG is saved by the browser instead of being run on the homeserver's origin.

/** The spec's list; compared by essence (`text/plain; charset=utf-8` is `text/plain`). */
const INLINE_SAFE = new Set([
  'text/css',
  'text/plain',
  'text/csv',
  'application/json',
  'application/ld+json',
  'image/jpeg',
  'image/gif',
  'image/png',
  'image/apng',
  'image/webp',
  'image/avif',
  'video/mp4',
  'video/webm',
  'video/ogg',
  'video/quicktime',
  'audio/mp4',
  'audio/webm',
  'audio/aac',
  'audio/mpeg',
  'audio/ogg',
  'audio/wave',
  'audio/wav',
  'audio/x-wav',
  'audio/x-pn-wav',
  'audio/flac',
  'audio/x-flac',
]);

/** The content types a thumbnail may have (the spec's enum for the thumbnail's Content-Type). */
const THUMBNAIL_TYPES = new Set(['image/jpeg', 'image/png', 'image/apng', 'image/gif', 'image/webp']);

function essence(contentType: string | null): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

export function isInlineSafe(contentType: string | null): boolean {
  return INLINE_SAFE.has(essence(contentType));
}

/** True when the original can be served as its own thumbnail (this server does not scale pictures). */
export function isThumbnailType(contentType: string | null): boolean {
  return THUMBNAIL_TYPES.has(essence(contentType));
}

/**
 * The header value: `inline` or `attachment`, with the file name when there is one: `filename="…"` for
 * plain ASCII names, RFC 5987 `filename*=utf-8''…` for anything else (which also keeps CR/LF out).
 */
export function contentDisposition(disposition: 'inline' | 'attachment', filename: string | null): string {
  if (!filename) return disposition;
  if (/^[\x20-\x7e]*$/.test(filename) && !/["\\]/.test(filename)) return `${disposition}; filename="${filename}"`;
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${disposition}; filename*=utf-8''${encoded}`;
}
