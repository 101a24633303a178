// The content repository: upload (POST, or create + PUT), download, thumbnail (a picture is its own),
// config. Mounted under /_matrix/media/{v3,r0,v1} (legacy, unauthenticated downloads) and under
// /_matrix/client/v1/media (authenticated media, spec v1.11). Only the spec's inline-safe types are served
// inline; everything is sandboxed by CSP and never sniffed.
import express, { type Request, type Response } from 'express';
import { MatrixError } from '../MatrixError.js';
import type { HomeserverContext } from '../HomeserverContext.js';
import { optionalRequester, param, query, queryInt, requesterOf } from '../http/RequestReader.js';
import { RouteTable } from '../http/RouteTable.js';
import { contentDisposition, isInlineSafe, isThumbnailType } from '../media/ContentDisposition.js';
import { UNUSED_EXPIRY_MS } from '../media/MediaStore.js';

/**
 * `legacy`: /_matrix/media/*, uploads and downloads without a token. `authenticated`: the spec's
 * /_matrix/client/v1/media (v1.11), which has config, download and thumbnail only, each needing a token.
 */
export function mediaRoutes(hs: HomeserverContext, kind: 'legacy' | 'authenticated'): RouteTable {
  const r = new RouteTable();
  const auth = hs.auth.required;
  const download = kind === 'authenticated' ? auth : hs.auth.optional;
  const raw = express.raw({ type: () => true, limit: hs.options.maxUploadBytes });

  const uploaded = (req: Request): { data: Buffer; contentType: string | null; filename: string | null } => {
    const data = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (data.length > hs.options.maxUploadBytes) throw new MatrixError(413, 'M_TOO_LARGE', 'Upload is too large');
    const contentType = req.headers['content-type'] ?? null;
    const filename = query(req, 'filename') ?? null;
    return { data, contentType, filename };
  };

  r.get('/config', auth, (_req, res) => {
    res.json({ 'm.upload.size': hs.options.maxUploadBytes });
  });

  if (kind === 'legacy') {
    r.post('/upload', auth, raw, async (req, res) => {
      const me = requesterOf(res);
      const u = uploaded(req);
      const id = await hs.media.upload(me.userId, u.data, u.contentType, u.filename);
      res.json({ content_uri: `mxc://${hs.serverName}/${id}` });
    });

    r.post('/create', auth, (_req, res) => {
      const me = requesterOf(res);
      const id = hs.media.reserve(me.userId);
      res.json({ content_uri: `mxc://${hs.serverName}/${id}`, unused_expires_at: Date.now() + UNUSED_EXPIRY_MS });
    });

    r.put('/upload/:serverName/:mediaId', auth, raw, async (req, res) => {
      const me = requesterOf(res);
      if (param(req, 'serverName') !== hs.serverName) throw new MatrixError(404, 'M_NOT_FOUND', 'Unknown media');
      const u = uploaded(req);
      await hs.media.uploadInto(me.userId, param(req, 'mediaId'), u.data, u.contentType, u.filename);
      res.json({});
    });
  }

  /** Longest a download waits for an upload that was reserved (POST /create) but not made yet. */
  const MAX_WAIT_MS = 120_000;

  /** A local medium (waiting for a reserved upload), or another server's (fetched over federation, cached). */
  const mediaOf = async (req: Request, res: Response): Promise<{ contentType: string | null; filename: string | null; data: Buffer }> => {
    const server = param(req, 'serverName');
    const mediaId = param(req, 'mediaId');
    if (server === hs.serverName) {
      const gone = new AbortController();
      res.on('close', () => gone.abort());
      const waitMs = Math.min(queryInt(req, 'timeout_ms') ?? 20_000, MAX_WAIT_MS);
      const found = await hs.media.contentWithin(mediaId, waitMs, gone.signal);
      return { contentType: found.info.content_type, filename: found.info.filename, data: found.data };
    }
    if (!hs.federation) throw new MatrixError(404, 'M_NOT_FOUND', 'Media not found (this server does not federate)');
    if (query(req, 'allow_remote') === 'false') throw new MatrixError(404, 'M_NOT_FOUND', 'Media not found (allow_remote is false)');
    // Anyone may read local media through the legacy paths, but only a signed-in user makes this server fetch.
    if (optionalRequester(res) === null) throw new MatrixError(401, 'M_MISSING_TOKEN', 'Media of other servers needs an access token');
    return hs.federation.media.content(server, mediaId);
  };

  const serve = async (req: Request, res: Response, thumbnail: boolean): Promise<void> => {
    if (thumbnail) {
      for (const name of ['width', 'height']) {
        if (queryInt(req, name, 1) === undefined) throw new MatrixError(400, 'M_MISSING_PARAM', `Missing "${name}"`);
      }
    }
    const found = await mediaOf(req, res);
    const type = found.contentType ?? 'application/octet-stream';
    // No image processing: a picture is its own thumbnail; anything else has none.
    if (thumbnail && !isThumbnailType(type)) throw new MatrixError(400, 'M_UNKNOWN', 'Cannot generate thumbnails for the requested content');
    const name = (thumbnail ? '' : param(req, 'fileName')) || found.filename;
    res.setHeader('Content-Type', type);
    res.setHeader('Content-Disposition', contentDisposition(thumbnail || isInlineSafe(type) ? 'inline' : 'attachment', name));
    res.setHeader('Content-Security-Policy', "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';");
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    res.status(200).end(found.data);
  };
  r.get('/download/:serverName/:mediaId{/:fileName}', download, (req, res) => serve(req, res, false));
  r.get('/thumbnail/:serverName/:mediaId', download, (req, res) => serve(req, res, true));
  return r;
}
