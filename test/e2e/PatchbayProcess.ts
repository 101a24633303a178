// The built CLI as a real process (`node dist/bin/patchbay.js <command> ...`), for suites that test
// processes: its output collected, lines awaited, signals sent. Each runs in its own process group so
// cleanup can take a `patchbay start` together with the redis-server it runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../testkit/waitFor.js';

const distRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(distRoot, 'bin', 'patchbay.js');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface PatchbayProcessOptions {
  cwd: string;
  /** Added to a minimal environment (PATH only), so nothing like PATCHBAY_CONFIG leaks in. */
  env?: NodeJS.ProcessEnv;
  /** The file node runs instead of the built CLI (e.g. scripts/patchbay.mjs in another layout). */
  script?: string;
}

function environment(env: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, ...env };
}

export class PatchbayProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined = undefined;

  private readonly cwd: string;

  private constructor(readonly args: string[], options: PatchbayProcessOptions) {
    this.cwd = options.cwd;
    this.child = spawn(process.execPath, [options.script ?? CLI, ...args], { cwd: options.cwd, env: environment(options.env), detached: true });
    this.child.stdout?.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) =>
      this.child.once('close', (code) => {
        this.exitCode = code;
        resolve(code);
      }),
    );
  }

  static start(args: string[], options: PatchbayProcessOptions): PatchbayProcess {
    return new PatchbayProcess(args, options);
  }

  /** Runs a command to completion. */
  static async run(args: string[], options: PatchbayProcessOptions): Promise<RunResult> {
    const p = new PatchbayProcess(args, options);
    const code = await p.exited;
    return { code, stdout: p.stdout, stderr: p.stderr };
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Waits for a stdout line matching `pattern` (fails early, with the output, if the process exits). */
  async waitForLine(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    return waitFor(
      () => {
        const match = this.stdout.split('\n').map((l) => pattern.exec(l)).find((m) => m !== null);
        if (match) return match;
        if (!this.running) {
          throw new Error(`patchbay ${this.args.join(' ')} exited (${String(this.exitCode)}) before printing ${pattern}:\n${this.stderr}\n${this.tail()}`);
        }
        return null;
      },
      timeoutMs,
      `patchbay ${this.args[0]} to print ${pattern}`,
    ).catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nstderr: ${this.stderr}\nstdout tail: ${this.tail()}`);
    });
  }

  /** How many log lines (JSON, from pino) carry this `msg`. */
  logCount(msg: string): number {
    return this.logs().filter((l) => l.msg === msg).length;
  }

  logs(): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const line of this.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a line still being written
      }
    }
    return out;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM and wait for the exit code. */
  async stop(): Promise<number | null> {
    this.signal('SIGTERM');
    return this.exited;
  }

  /** SIGKILL of this process alone (a crash); what it started keeps running. */
  async crash(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  /** Cleanup: SIGKILL to the whole process group (a `start` and its redis-server). */
  killGroup(): void {
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    // Its embedded redis-server runs in a process group of its own (it outlives a kill -9 by design, and
    // the next start in that folder ends it); a test that starts none afterwards ends it here.
    for (const pid of redisServersUnder(this.cwd)) process.kill(pid, 'SIGKILL');
  }

  private tail(): string {
    return this.stdout.split('\n').slice(-15).join('\n');
  }
}

/** A port that was free a moment ago (for processes that must keep their port across a restart). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** redis-server processes whose socket lies under `dir`. */
function redisServersUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.startsWith('redis-server') && cmdline.includes(`${dir}/`)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}
