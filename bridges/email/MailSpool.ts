// Accepted mail on disk, before it is in Matrix: the SMTP server answers 250 only once a mail is here,
// fsynced. Each mail is two files in `new/`: `<id>.eml` (the raw message, streamed: a 20 MB mail never
// sits in memory whole) and `<id>.json` (its envelope). The JSON is renamed into place last, after the
// message and its folder were fsynced: a mail with both files was acknowledged, a lone `.eml` was not
// (the process died before the 250) and is removed at start.
import { randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

/** What the SMTP transaction said about a mail, kept beside it. */
export interface Envelope {
  id: string;
  receivedAt: number;
  /** MAIL FROM, or null for the null sender (bounces). */
  mailFrom: string | null;
  /** The accepted RCPT TO addresses, as the bridge normalised them. */
  rcptTo: string[];
  remoteAddress: string;
  helo: string;
  secure: boolean;
  size: number;
  /** Sender-check verdict, when it was made before the 250. */
  verdict?: Record<string, unknown>;
}

export class SizeExceededError extends Error {
  constructor(readonly limit: number) {
    super(`message exceeds the size limit of ${limit} bytes`);
    this.name = 'SizeExceededError';
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class MailSpool {
  private readonly tmp: string;
  private readonly ready: string;
  private readonly failedDir: string;

  constructor(readonly dir: string) {
    this.tmp = join(dir, 'tmp');
    this.ready = join(dir, 'new');
    this.failedDir = join(dir, 'failed');
  }

  /** Makes the folders, forgets half-written mails and mails that were never acknowledged. */
  async open(): Promise<void> {
    await rm(this.tmp, { recursive: true, force: true });
    for (const d of [this.tmp, this.ready, this.failedDir]) await mkdir(d, { recursive: true });
    const files = new Set(await readdir(this.ready));
    for (const f of files) {
      if (f.endsWith('.eml') && !files.has(f.replace(/\.eml$/, '.json'))) await rm(join(this.ready, f), { force: true });
    }
  }

  newId(): string {
    // Sortable by arrival: a restart delivers the oldest first.
    return `${Date.now().toString(36).padStart(9, '0')}-${randomBytes(6).toString('hex')}`;
  }

  /** Streams the message to a temp file and fsyncs it; rejects with SizeExceededError past `limit`. */
  async write(id: string, message: Readable, limit: number, sizeExceeded: () => boolean): Promise<{ path: string; size: number }> {
    const path = join(this.tmp, `${id}.eml`);
    const fh = await open(path, 'w');
    let size = 0;
    try {
      for await (const chunk of message) {
        const bytes = chunk as Buffer;
        size += bytes.length;
        if (size > limit || sizeExceeded()) continue; // keep reading to the end of DATA, write nothing more
        await fh.write(bytes);
      }
      if (size > limit || sizeExceeded()) throw new SizeExceededError(limit);
      await fh.sync();
    } catch (err) {
      await fh.close();
      await rm(path, { force: true });
      throw err;
    }
    await fh.close();
    return { path, size };
  }

  /** Makes a written mail durable and visible to the processor: the moment after which 250 may be said. */
  async commit(envelope: Envelope): Promise<void> {
    const json = join(this.tmp, `${envelope.id}.json`);
    const fh = await open(json, 'w');
    try {
      await fh.writeFile(JSON.stringify(envelope));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(join(this.tmp, `${envelope.id}.eml`), join(this.ready, `${envelope.id}.eml`));
    await rename(json, join(this.ready, `${envelope.id}.json`));
    await fsyncDir(this.ready);
  }

  /** Drops a written but refused mail. */
  async discard(id: string): Promise<void> {
    await rm(join(this.tmp, `${id}.eml`), { force: true });
  }

  tempPath(id: string): string {
    return join(this.tmp, `${id}.eml`);
  }

  /** Ids of acknowledged mails not yet in Matrix, oldest first. */
  async pending(): Promise<string[]> {
    return (await readdir(this.ready)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
  }

  async envelope(id: string): Promise<Envelope> {
    return JSON.parse(await readFile(join(this.ready, `${id}.json`), 'utf8')) as Envelope;
  }

  messagePath(id: string): string {
    return join(this.ready, `${id}.eml`);
  }

  openMessage(id: string): ReadStream {
    return createReadStream(this.messagePath(id), { highWaterMark: 256 * 1024 });
  }

  /** Done: the mail is in Matrix (or was a duplicate). */
  async remove(id: string): Promise<void> {
    await rm(join(this.ready, `${id}.json`), { force: true });
    await rm(join(this.ready, `${id}.eml`), { force: true });
  }

  /** Kept for the operator: it can never be delivered (the reason is written beside it). */
  async fail(id: string, reason: string): Promise<void> {
    await writeFile(join(this.failedDir, `${id}.reason.txt`), `${reason}\n`);
    await rename(join(this.ready, `${id}.eml`), join(this.failedDir, `${id}.eml`)).catch(() => undefined);
    await rename(join(this.ready, `${id}.json`), join(this.failedDir, `${id}.json`)).catch(() => undefined);
  }
}
