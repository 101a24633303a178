// Local media for other servers (spec v1.11): GET media/download/{mediaId} and media/thumbnail/{mediaId}
// answer multipart/mixed, an empty JSON metadata part and the bytes. As for local clients, a picture is
// its own thumbnail and anything else has none.
import type { RequestHandler } from 'express';
import type { HomeserverContext } from '../HomeserverContext.js';
import { multipartMixedBody } from '../federation/transport/MultipartMixed.js';
import { param, queryInt } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';
import { contentDisposition, isInlineSafe, isThumbnailType } from '../media/ContentDisposition.js';
import { MatrixError } from '../MatrixError.js';

/** Longest a peer's download waits for an upload that was reserved but not made yet. */
const MAX_WAIT_MS = 20_000;

export function federationMediaRoutes(r: RouteTable, hs: HomeserverContext, signed: RequestHandler): void {
  const serve =
    (thumbnail: boolean): RequestHandler =>
    async (req, res) => {
      if (thumbnail) {
        for (const name of ['width', 'height']) {
          if (queryInt(req, name, 1) === undefined) throw new MatrixError(400, 'M_MISSING_PARAM', `Missing "${name}"`);
        }
      }
      const gone = new AbortController();
      res.on('close', () => gone.abort());
      const found = await hs.media.contentWithin(param(req, 'mediaId'), Math.min(queryInt(req, 'timeout_ms') ?? MAX_WAIT_MS, MAX_WAIT_MS), gone.signal);
      const type = found.info.content_type ?? 'application/octet-stream';
      if (thumbnail && !isThumbnailType(type)) throw new MatrixError(400, 'M_UNKNOWN', 'Cannot generate thumbnails for the requested content');
      const multipart = multipartMixedBody(
        {},
        {
          headers: { 'Content-Type': type, 'Content-Disposition': contentDisposition(thumbnail || isInlineSafe(type) ? 'inline' : 'attachment', found.info.filename) },
          body: found.data,
        },
      );
      res.setHeader('Content-Type', multipart.contentType);
      res.status(200).end(multipart.body);
    };
  r.get('/media/download/:mediaId', signed, serve(false));
  r.get('/media/thumbnail/:mediaId', signed, serve(true));
}
