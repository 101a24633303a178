// The content repository: upload (POST, or create + PUT), download, thumbnail (the original), config.
// Mounted under /_matrix/media/{v3,r0,v1} (legacy, unauthenticated downloads) and under
// /_matrix/client/v1/media (authenticated media, spec v1.11).
import express, { type Request, type Response } from 'express';
import { MatrixError } from '../MatrixError.js';
import type { HomeserverContext } from '../HomeserverContext.js';
import { param, query, requesterOf } from '../http/RequestReader.js';
import { RouteTable } from '../http/RouteTable.js';
import { UNUSED_EXPIRY_MS } from '../media/MediaStore.js';

export function mediaRoutes(hs: HomeserverContext, authenticatedDownloads: boolean): RouteTable {
  const r = new RouteTable();
  const auth = hs.auth.required;
  const download = authenticatedDownloads ? auth : hs.auth.optional;
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

  const serve = async (req: Request, res: Response): Promise<void> => {
    if (param(req, 'serverName') !== hs.serverName) throw new MatrixError(404, 'M_NOT_FOUND', 'Media not found (this server does not federate)');
    const found = await hs.media.content(param(req, 'mediaId'));
    if (!found) throw new MatrixError(404, 'M_NOT_FOUND', 'Media not found');
    const name = param(req, 'fileName') || found.info.filename;
    res.setHeader('Content-Type', found.info.content_type ?? 'application/octet-stream');
    res.setHeader('Content-Security-Policy', "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';");
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    if (name) res.setHeader('Content-Disposition', `inline; filename*=utf-8''${encodeURIComponent(name)}`);
    res.status(200).end(found.data);
  };
  r.get('/download/:serverName/:mediaId{/:fileName}', download, serve);
  // No image processing: the thumbnail is the original, which the spec allows.
  r.get('/thumbnail/:serverName/:mediaId', download, serve);
  return r;
}
