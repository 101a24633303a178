// mxc://<other server>/<id> for local clients: fetched once from the server it lives on, kept in
// RemoteMediaCache, served from there afterwards. Asked first through the federation endpoint (spec
// v1.11, signed, multipart/mixed), then, when the peer does not know that endpoint, through its legacy
// /_matrix/media/v3/download. A part that only redirects (Location) is not followed: the address it
// names could be anywhere. Media larger than homeserver.federation.remote_media_max_bytes are refused.
import { MatrixError } from '../../MatrixError.js';
import type { CachedRemoteMedia, RemoteMediaCache } from '../../media/RemoteMediaCache.js';
import { multipartBoundary, parseMultipart } from '../transport/MultipartMixed.js';
import { FederationRequestError, type DownloadedBody, type FederationClient } from '../transport/FederationClient.js';
import { clientErrorOf } from './RemoteQueries.js';

const MEDIA_ID = /^[A-Za-z0-9_-]{1,255}$/;

/** A peer's Content-Type, if it is one that can be sent on as a header. */
function safeType(type: string | null | undefined): string | null {
  return typeof type === 'string' && /^[\x21-\x7e][\x20-\x7e]{0,254}$/.test(type) ? type : null;
}

/** The filename of a Content-Disposition header (RFC 6266 filename* first), or null. */
export function filenameOf(disposition: string | null | undefined): string | null {
  if (!disposition) return null;
  const star = /filename\*\s*=\s*utf-8''([^;]+)/i.exec(disposition);
  if (star) {
    try {
      return decodeURIComponent(star[1]!.trim());
    } catch {
      return null;
    }
  }
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(disposition);
  return plain ? (plain[1] ?? plain[2])!.replace(/\\(.)/g, '$1') : null;
}

/** Whether a failed federation download means "this server has no such endpoint" (so: try the legacy one). */
function endpointMissing(err: unknown): boolean {
  return err instanceof FederationRequestError && (err.errcode === 'M_UNRECOGNIZED' || err.status === 405 || err.status === 501);
}

export class RemoteMedia {
  private readonly inFlight = new Map<string, Promise<CachedRemoteMedia>>();

  constructor(
    private readonly client: FederationClient,
    private readonly cache: RemoteMediaCache,
    private readonly maxBytes: number,
    private readonly timeoutMs: number,
  ) {}

  /** The medium, from the cache or fetched now; throws MatrixError (404, 502 M_TOO_LARGE, 502). */
  async content(origin: string, mediaId: string): Promise<CachedRemoteMedia> {
    if (!MEDIA_ID.test(mediaId)) throw new MatrixError(404, 'M_NOT_FOUND', 'Media not found');
    const cached = await this.cache.get(origin, mediaId);
    if (cached) return cached;
    const key = `${origin}/${mediaId}`;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.fetch(origin, mediaId).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async fetch(origin: string, mediaId: string): Promise<CachedRemoteMedia> {
    let media: CachedRemoteMedia;
    try {
      media = await this.viaFederation(origin, mediaId).catch(async (err: unknown) => {
        if (!endpointMissing(err)) throw err;
        return this.viaLegacy(origin, mediaId);
      });
    } catch (err) {
      if (err instanceof FederationRequestError && err.errcode === 'M_TOO_LARGE') {
        throw new MatrixError(502, 'M_TOO_LARGE', `The media is larger than this server fetches (${this.maxBytes} bytes)`);
      }
      throw clientErrorOf(err);
    }
    await this.cache.put(origin, mediaId, media);
    return media;
  }

  private limits(): { timeoutMs: number; maxResponseBytes: number } {
    // Room for the multipart framing and metadata around the largest medium taken.
    return { timeoutMs: this.timeoutMs, maxResponseBytes: this.maxBytes + 64 * 1024 };
  }

  private checkSize(origin: string, data: Buffer): void {
    if (data.length > this.maxBytes) throw new FederationRequestError(origin, `the media is larger than ${this.maxBytes} bytes`, 200, 'M_TOO_LARGE');
  }

  private async viaFederation(origin: string, mediaId: string): Promise<CachedRemoteMedia> {
    const got = await this.client.download(origin, `/_matrix/federation/v1/media/download/${encodeURIComponent(mediaId)}?timeout_ms=${this.timeoutMs}`, this.limits());
    const boundary = multipartBoundary(got.contentType);
    const parts = boundary === null ? null : parseMultipart(got.data, boundary);
    const media = parts?.length === 2 ? parts[1]! : null;
    if (!media) throw new FederationRequestError(origin, 'the media download is not a two-part multipart/mixed body', 502);
    if (media.headers['location'] !== undefined) throw new FederationRequestError(origin, 'the media download only redirects (Location), which is not followed', 502);
    this.checkSize(origin, media.body);
    return { contentType: safeType(media.headers['content-type']), filename: filenameOf(media.headers['content-disposition']), data: media.body };
  }

  private async viaLegacy(origin: string, mediaId: string): Promise<CachedRemoteMedia> {
    const got: DownloadedBody = await this.client.download(
      origin,
      `/_matrix/media/v3/download/${encodeURIComponent(origin)}/${encodeURIComponent(mediaId)}?allow_remote=false&allow_redirect=false`,
      this.limits(),
    );
    this.checkSize(origin, got.data);
    return { contentType: safeType(got.contentType), filename: filenameOf(got.contentDisposition), data: got.data };
  }
}
