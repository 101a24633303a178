// Media of other servers fetched for local clients (remote_media, migration 14): the row is written only
// once the bytes are in the blob store, under an ID of their own, so a listed medium always has content.
import { randomLetters } from '../ids/MatrixIds.js';
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import type { BlobStore } from './BlobStore.js';

export interface CachedRemoteMedia {
  contentType: string | null;
  filename: string | null;
  data: Buffer;
}

export class RemoteMediaCache {
  private readonly s;

  constructor(
    db: SqlDatabase,
    private readonly blobs: BlobStore,
  ) {
    this.s = {
      get: db.prepare('SELECT blob_id, content_type, filename FROM remote_media WHERE origin = ? AND media_id = ?'),
      put: db.prepare(
        `INSERT INTO remote_media (origin, media_id, blob_id, content_type, filename, size, fetched_ts) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(origin, media_id) DO NOTHING`,
      ),
    };
  }

  async get(origin: string, mediaId: string): Promise<CachedRemoteMedia | null> {
    const row = this.s.get.get(origin, mediaId) as { blob_id: string; content_type: string | null; filename: string | null } | undefined;
    if (!row) return null;
    const data = await this.blobs.read(row.blob_id);
    return data ? { contentType: row.content_type, filename: row.filename, data } : null;
  }

  async put(origin: string, mediaId: string, media: CachedRemoteMedia): Promise<void> {
    const blobId = `remote_${randomLetters(24)}`;
    await this.blobs.write(blobId, media.data);
    this.s.put.run(origin, mediaId, blobId, media.contentType, media.filename, media.data.length, Date.now());
  }
}
