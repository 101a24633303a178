// Where media bytes live: files under media_dir for sqlite storage (written to a temp file, synced, then
// renamed, so a crash never leaves half a file under a media ID), or memory for memory storage.
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

export interface BlobStore {
  write(id: string, data: Buffer): Promise<void>;
  read(id: string): Promise<Buffer | null>;
}

export class FileBlobStore implements BlobStore {
  constructor(private readonly dir: string) {}

  async write(id: string, data: Buffer): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const final = join(this.dir, id);
    const tmp = `${final}.${process.pid}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, final);
  }

  async read(id: string): Promise<Buffer | null> {
    try {
      return await readFile(join(this.dir, id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }
}

export class MemoryBlobStore implements BlobStore {
  private readonly blobs = new Map<string, Buffer>();

  async write(id: string, data: Buffer): Promise<void> {
    this.blobs.set(id, data);
  }

  async read(id: string): Promise<Buffer | null> {
    return this.blobs.get(id) ?? null;
  }
}
