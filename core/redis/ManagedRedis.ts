import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
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
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  constructor(private readonly options: ManagedRedisOptions) {
    this.socketPath = join(resolve(options.dir), 'redis.sock');
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
