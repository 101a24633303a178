// One `patchbay start` per data_dir: two would share the homeserver database and the managed Redis. A
// pid file marks the owner; a file left by a process that no longer runs (kill -9, a crash) is taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class DataDirInUseError extends Error {
  constructor(dataDir: string, pid: number) {
    super(
      `data_dir ${dataDir} is in use by another patchbay start (pid ${pid}). ` +
        'Fix: stop that process, or give this one its own data_dir (and ports)',
    );
    this.name = 'DataDirInUseError';
  }
}

export class DataDirLock {
  readonly path: string;
  /** True when the previous owner died without releasing the lock (what it left running may be stray). */
  readonly tookOverFromDeadProcess: boolean;

  private constructor(path: string, tookOver: boolean) {
    this.path = path;
    this.tookOverFromDeadProcess = tookOver;
  }

  static acquire(dataDir: string): DataDirLock {
    mkdirSync(dataDir, { recursive: true });
    const path = join(dataDir, 'patchbay.pid');
    let tookOver = false;
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isInteger(pid) && pid !== process.pid && isAlive(pid)) throw new DataDirInUseError(dataDir, pid);
      writeFileSync(path, `${process.pid}\n`);
      tookOver = true;
    }
    return new DataDirLock(path, tookOver);
  }

  /** The pid of the live `patchbay start` holding data_dir, or null when none does. */
  static holder(dataDir: string): number | null {
    let pid: number;
    try {
      pid = Number.parseInt(readFileSync(join(dataDir, 'patchbay.pid'), 'utf8'), 10);
    } catch {
      return null;
    }
    return Number.isInteger(pid) && pid !== process.pid && isAlive(pid) ? pid : null;
  }

  release(): void {
    try {
      if (Number.parseInt(readFileSync(this.path, 'utf8'), 10) === process.pid) rmSync(this.path, { force: true });
    } catch {
      // Already gone: nothing to release.
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
