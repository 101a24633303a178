// The content repository: media IDs and metadata in the database, bytes in a BlobStore.
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import { MatrixError } from '../MatrixError.js';
import { randomLetters } from '../ids/MatrixIds.js';
import type { BlobStore } from './BlobStore.js';

export interface MediaInfo {
  media_id: string;
  user_id: string;
  content_type: string | null;
  filename: string | null;
  size: number | null;
  uploaded: number;
}

/** How long a media ID from POST /create stays reserved for its upload. */
export const UNUSED_EXPIRY_MS = 24 * 3600_000;

export class MediaStore {
  private readonly s;
  /** Downloads waiting for a reserved ID's upload, woken by uploadInto. */
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(
    db: SqlDatabase,
    private readonly blobs: BlobStore,
  ) {
    this.s = {
      insert: db.prepare(
        'INSERT INTO media (media_id, user_id, content_type, filename, size, created_ts, uploaded) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      get: db.prepare('SELECT media_id, user_id, content_type, filename, size, uploaded FROM media WHERE media_id = ?'),
      finish: db.prepare('UPDATE media SET content_type = ?, filename = ?, size = ?, uploaded = 1 WHERE media_id = ?'),
    };
  }

  /** Reserves a media ID for a later PUT upload. */
  reserve(userId: string): string {
    const id = randomLetters(24);
    this.s.insert.run(id, userId, null, null, null, Date.now(), 0);
    return id;
  }

  async upload(userId: string, data: Buffer, contentType: string | null, filename: string | null): Promise<string> {
    const id = randomLetters(24);
    await this.blobs.write(id, data);
    // The metadata row is written only once the bytes are safe, so a listed ID always has its content.
    this.s.insert.run(id, userId, contentType, filename, data.length, Date.now(), 1);
    return id;
  }

  /** PUT /upload/{server}/{mediaId} into a reserved ID. */
  async uploadInto(userId: string, mediaId: string, data: Buffer, contentType: string | null, filename: string | null): Promise<void> {
    const info = this.info(mediaId);
    if (!info) throw new MatrixError(404, 'M_NOT_FOUND', 'Unknown media ID');
    if (info.user_id !== userId) throw new MatrixError(403, 'M_FORBIDDEN', 'This media ID was reserved by another user');
    if (info.uploaded) throw new MatrixError(409, 'M_CANNOT_OVERWRITE_MEDIA', 'Media already uploaded');
    await this.blobs.write(mediaId, data);
    this.s.finish.run(contentType, filename, data.length, mediaId);
    for (const wake of this.waiters.get(mediaId) ?? []) wake();
  }

  /** Waits up to `timeoutMs` (or until `signal` aborts) for a reserved ID's upload; true once uploaded. */
  async waitForUpload(mediaId: string, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.info(mediaId)?.uploaded) return true;
    await new Promise<void>((resolve) => {
      const set = this.waiters.get(mediaId) ?? new Set();
      this.waiters.set(mediaId, set);
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0) this.waiters.delete(mediaId);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done);
      set.add(done);
    });
    return Boolean(this.info(mediaId)?.uploaded);
  }

  info(mediaId: string): MediaInfo | null {
    return (this.s.get.get(mediaId) as MediaInfo | undefined) ?? null;
  }

  /**
   * The content, waiting up to `waitMs` (or until `signal` aborts) for a reserved ID's upload. Throws
   * MatrixError 404 M_NOT_FOUND, or 504 M_NOT_YET_UPLOADED when the wait ends first.
   */
  async contentWithin(mediaId: string, waitMs: number, signal: AbortSignal): Promise<{ info: MediaInfo; data: Buffer }> {
    const found = await this.content(mediaId);
    if (found) return found;
    if (!this.info(mediaId)) throw new MatrixError(404, 'M_NOT_FOUND', 'Media not found');
    if (!(await this.waitForUpload(mediaId, waitMs, signal))) {
      throw new MatrixError(504, 'M_NOT_YET_UPLOADED', 'The media has not been uploaded yet');
    }
    const uploaded = await this.content(mediaId);
    if (!uploaded) throw new MatrixError(404, 'M_NOT_FOUND', 'Media not found');
    return uploaded;
  }

  async content(mediaId: string): Promise<{ info: MediaInfo; data: Buffer } | null> {
    const info = this.info(mediaId);
    if (!info || !info.uploaded) return null;
    const data = await this.blobs.read(mediaId);
    return data ? { info, data } : null;
  }
}
