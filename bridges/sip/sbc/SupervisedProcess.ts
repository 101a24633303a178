// A daemon the bridge runs as a child (Kamailio, rtpengine): started in its own process group (so a
// terminal's Ctrl-C reaches Patchbay, which stops it in order), checked for readiness, restarted with
// backoff when it dies on its own, and stopped with SIGTERM, then SIGKILL. Its pid file lets the next
// start end a copy that outlived a `patchbay start` killed with SIGKILL.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import type { Logger } from 'patchbay-matrix/plugin';

export interface ProcessSpec {
  name: string;
  binary: string;
  args: string[];
  pidFile: string;
  /** Resolves once the process serves (a port answers); gives up when `signal` aborts. */
  ready(signal: AbortSignal): Promise<void>;
  /** What to tell an operator when it will not start, from its last output. */
  hint?(output: string): string | null;
}

export interface ProcessEvents {
  /** It died on its own; `restartInMs` until the next try. */
  died(name: string, reason: string, restartInMs: number): void;
  /** It serves again after a restart. */
  restarted(name: string): void;
}

export class ProcessStartError extends Error {}

const READY_TIMEOUT_MS = 10_000;

export class SupervisedProcess {
  private child: ChildProcess | null = null;
  private output = '';
  private stopping = false;
  private restartDelayMs: number;
  private restartTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly spec: ProcessSpec,
    private readonly logger: Logger,
    private readonly events: ProcessEvents,
    private readonly backoff = { initialMs: 500, maxMs: 30_000 },
  ) {
    this.restartDelayMs = backoff.initialMs;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  static binaryExists(binary: string): boolean {
    if (binary.includes('/')) return existsSync(binary);
    return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', binary], { stdio: 'ignore' }).status === 0;
  }

  /** Starts it and waits until it serves; a copy left by an earlier run is ended first. */
  async start(): Promise<void> {
    this.stopping = false;
    endStray(this.spec.pidFile, this.spec.binary, this.logger);
    await this.spawnOnce();
  }

  /** SIGTERM to its process group, SIGKILL after 5 s; no restart follows. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const child = this.child;
    if (!child?.pid) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    signalGroup(child.pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    // Workers that outlive their parent would keep the ports.
    signalGroup(child.pid, 'SIGKILL');
    rmSync(this.spec.pidFile, { force: true });
  }

  /** Kills its whole process group at once, as a crash would (for fault tests); the supervisor restarts it. */
  kill(): void {
    if (this.child?.pid) signalGroup(this.child.pid, 'SIGKILL');
  }

  private async spawnOnce(): Promise<void> {
    const { name, binary, args } = this.spec;
    if (!SupervisedProcess.binaryExists(binary)) throw new ProcessStartError(`${name}: ${binary} is not installed`);
    this.output = '';
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child = child;
    const keep = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      this.output = (this.output + text).slice(-8000);
      for (const line of text.split('\n')) if (line.trim() !== '') this.logger.debug({ process: name }, line.trim());
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<string>((resolve) =>
      child.once('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exited with status ${code}`)),
    );
    // Supervised once it served: a start that fails is the caller's to report, not to retry here.
    let supervised = false;
    child.once('exit', () => {
      if (this.child === child) this.child = null;
      if (supervised) exited.then((how) => this.exitedOnItsOwn(child, how)).catch(() => undefined);
    });
    const giveUp = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const readyWithin = Promise.race([
      this.spec.ready(giveUp.signal),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not ready within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
      }),
      exited.then((how) => {
        throw new Error(how);
      }),
    ]);
    try {
      await readyWithin;
    } catch (err) {
      clearTimeout(timer);
      giveUp.abort();
      if (child.pid) signalGroup(child.pid, 'SIGKILL');
      const hint = this.spec.hint?.(this.output);
      const last = this.output.trim().split('\n').slice(-3).join(' | ');
      throw new ProcessStartError(`${name} did not start (${err instanceof Error ? err.message : String(err)})${hint ? `: ${hint}` : last ? `: ${last}` : ''}`);
    }
    clearTimeout(timer);
    giveUp.abort();
    supervised = true;
    this.restartDelayMs = this.backoff.initialMs;
  }

  private exitedOnItsOwn(child: ChildProcess, how: string): void {
    if (this.stopping || this.child !== null) return;
    // Its workers may still hold the ports.
    if (child.pid) signalGroup(child.pid, 'SIGKILL');
    const wait = this.restartDelayMs;
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, this.backoff.maxMs);
    this.logger.error({ process: this.spec.name, how, restart_ms: wait }, `${this.spec.name} stopped on its own; restarting it`);
    this.events.died(this.spec.name, how, wait);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopping) return;
      this.spawnOnce().then(
        () => this.events.restarted(this.spec.name),
        (err: unknown) => this.exitedOnItsOwn(child, err instanceof Error ? err.message : String(err)),
      );
    }, wait);
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** Ends a process named in `pidFile` that still runs `binary` (left by a start that was killed). */
function endStray(pidFile: string, binary: string, logger: Logger): void {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  rmSync(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 1) return;
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return;
  }
  const program = binary.split('/').pop() ?? binary;
  if (!cmdline.includes(program)) return;
  logger.warn({ pid, program }, `${program} left running by an earlier start is being stopped`);
  signalGroup(pid, 'SIGKILL');
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone.
  }
}
