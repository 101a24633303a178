import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';

export interface ManagedRedisOptions {
  /** Folder for the socket and the append-only file; created if missing. */
  dir: string;
  /** Keep an AOF so queued events survive a crash (the production default). Tests may turn it off. */
  appendOnly?: boolean;
  /** Path of the redis-server binary; found on PATH by default. */
  binary?: string;
}

/** Thrown when redis-server is not installed, with the command that fixes it. */
export class RedisBinaryMissingError extends Error {
  constructor(binary: string) {
    super(
      `redis-server was not found (${binary}). Install it with: apt-get install -y redis-server ` +
        `(or set redis.url in your config to use a Redis server you run yourself)`,
    );
    this.name = 'RedisBinaryMissingError';
  }
}

/**
 * A redis-server child process on a unix socket inside a data folder: the embedded default when no
 * redis.url is configured, and what test suites start for themselves. A socket, not a TCP port, so
 * two instances never race for a port.
 */
export class ManagedRedis {
  readonly socketPath: string;
  private readonly pidFile: string;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  constructor(private readonly options: ManagedRedisOptions) {
    this.socketPath = join(resolve(options.dir), 'redis.sock');
    this.pidFile = join(resolve(options.dir), 'redis.pid');
  }

  /** Connection URL for ioredis: `redis+unix` is not understood, so callers pass `{ path }`. */
  get connection(): { path: string } {
    return { path: this.socketPath };
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    if (this.child) return;
    const binary = this.options.binary ?? 'redis-server';
    if (!ManagedRedis.binaryExists(binary)) throw new RedisBinaryMissingError(binary);
    const dir = resolve(this.options.dir);
    mkdirSync(dir, { recursive: true });
    await this.endOrphan();
    rmSync(this.socketPath, { force: true });
    const args = [
      '--port', '0',
      '--unixsocket', this.socketPath,
      '--unixsocketperm', '700',
      '--dir', dir,
      '--save', '',
      '--appendonly', this.options.appendOnly === false ? 'no' : 'yes',
      '--appendfsync', 'everysec',
      // BullMQ requires that Redis never evicts its keys.
      '--maxmemory-policy', 'noeviction',
      '--daemonize', 'no',
      '--pidfile', this.pidFile,
      '--loglevel', 'warning',
    ];
    // Its own process group: a terminal's Ctrl-C reaches Patchbay, which stops Redis last, after the
    // pipeline has drained; Redis must not shut down under it first.
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-4000);
    });
    this.child = child;
    this.exited = new Promise((res) =>
      child.once('exit', () => {
        if (this.child === child) this.child = null;
        res();
      }),
    );
    const failed = this.exited.then(() => {
      throw new Error(`redis-server exited during start: ${stderr.trim()}`);
    });
    try {
      await Promise.race([this.waitForSocket(10_000, () => this.child !== child), failed]);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    failed.catch(() => undefined);
  }

  /** Stops the server and waits for it to exit (SHUTDOWN via SIGTERM flushes the AOF). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
    this.child = null;
  }

  /** Kills the server without letting it flush: for crash tests. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await this.exited;
    this.child = null;
  }

  /**
   * Ends the redis-server a killed run left behind on this folder (its own process group kept it alive
   * through the kill -9): SIGTERM, so it flushes its AOF before the new one reads it, and no stray
   * server keeps running beside the new one.
   */
  private async endOrphan(): Promise<void> {
    let pid: number;
    try {
      pid = Number.parseInt(readFileSync(this.pidFile, 'utf8'), 10);
    } catch {
      return;
    }
    if (!Number.isInteger(pid) || pid <= 0 || !ManagedRedis.isOurs(pid, this.socketPath)) return;
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    let killed = false;
    while (ManagedRedis.isOurs(pid, this.socketPath)) {
      if (!killed && Date.now() > deadline) {
        process.kill(pid, 'SIGKILL');
        killed = true;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** A live redis-server serving this socket (a pid file can outlive its process, and pids are reused). */
  private static isOurs(pid: number, socketPath: string): boolean {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmdline.includes('redis-server') && cmdline.includes(socketPath);
    } catch {
      return false;
    }
  }

  static binaryExists(binary: string): boolean {
    if (binary.includes('/')) return existsSync(binary);
    return spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;
  }

  private async waitForSocket(timeoutMs: number, gaveUp: () => boolean): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!gaveUp()) {
      if (existsSync(this.socketPath) && (await this.answersPing())) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not open ${this.socketPath} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private answersPing(): Promise<boolean> {
    return new Promise((res) => {
      const sock = connect(this.socketPath);
      sock.once('error', () => res(false));
      sock.once('connect', () => sock.write('PING\r\n'));
      sock.once('data', (d) => {
        sock.destroy();
        res(d.toString().startsWith('+PONG'));
      });
    });
  }
}
