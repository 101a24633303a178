// What a server command checks before it starts anything: that data_dir can be written, that its ports
// are free and its addresses exist, that redis-server is there when it must run one, and that no `patchbay
// start` already runs on the same data. Every problem is found in one go, each one line with the key and
// the fix, and nothing is left half-started (no Redis running, no registration written). `patchbay doctor`
// runs the same checks.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { PatchbayConfig } from '../config/index.js';
import { ManagedRedis } from '../core/redis/ManagedRedis.js';
import { DataDirLock } from './DataDirLock.js';
import { PreflightError } from './PreflightError.js';


/** A listener a command will open: the config keys that set it (for the messages) and where. */
export interface Listener {
  portKey: string;
  bindKey: string;
  bind: string;
  port: number;
}

/** The appservice host's listener (host.bind, host.port). */
export function hostListener(config: PatchbayConfig): Listener {
  return { portKey: 'host.port', bindKey: 'host.bind', bind: config.host.bind, port: config.host.port };
}

/** The embedded homeserver's listener (homeserver.bind, homeserver.port). */
export function homeserverListener(config: PatchbayConfig): Listener {
  return { portKey: 'homeserver.port', bindKey: 'homeserver.bind', bind: config.homeserver.bind, port: config.homeserver.port };
}

/** homeserver.federation.listener when it has a port of its own and federation is on; else null. */
export function federationListener(config: PatchbayConfig): Listener | null {
  const { enabled, listener } = config.homeserver.federation;
  if (!enabled || listener.port === null) return null;
  const bindKey = listener.bind === null ? 'homeserver.bind' : 'homeserver.federation.listener.bind';
  return { portKey: 'homeserver.federation.listener.port', bindKey, bind: listener.bind ?? config.homeserver.bind, port: listener.port };
}

/** The embedded homeserver's listeners: the client port, and the federation port when it has its own. */
export function homeserverListeners(config: PatchbayConfig): Listener[] {
  const federation = federationListener(config);
  return [homeserverListener(config), ...(federation ? [federation] : [])];
}

/** homeserver.metrics.port, or homeserver.port + 1 when it is null (0 stays 0: any free port). */
export function homeserverMetricsPort(config: PatchbayConfig): number {
  const { port } = config.homeserver.metrics;
  if (port !== null) return port;
  return config.homeserver.port === 0 ? 0 : config.homeserver.port + 1;
}

/** `patchbay homeserver`'s metrics listener (homeserver.metrics.bind, homeserver.metrics.port). */
export function homeserverMetricsListener(config: PatchbayConfig): Listener {
  const { bind } = config.homeserver.metrics;
  return { portKey: 'homeserver.metrics.port', bindKey: 'homeserver.metrics.bind', bind, port: homeserverMetricsPort(config) };
}

export interface PreflightNeeds {
  /** A folder the command writes (data_dir). */
  writableDir?: string;
  listeners?: Listener[];
  /** redis.url is null and the command runs its own redis-server. */
  redisServer?: boolean;
  /** The command uses data_dir's homeserver database, which a running `patchbay start` holds. */
  notBesideStart?: { dataDir: string; what: string };
}

/** Throws a PreflightError listing everything that would make the start fail. */
export async function preflight(needs: PreflightNeeds): Promise<void> {
  const problems: string[] = [];
  if (needs.notBesideStart) {
    const { dataDir, what } = needs.notBesideStart;
    const pid = DataDirLock.holder(dataDir);
    if (pid !== null) {
      problems.push(
        `data_dir: patchbay start (pid ${pid}) runs on ${dataDir}, and with it ${what}. ` +
          'Fix: stop that patchbay start first, or give this command its own data_dir',
      );
    }
  }
  if (needs.writableDir !== undefined) {
    const problem = writableDirProblem(needs.writableDir);
    if (problem !== null) problems.push(problem);
  }
  if (needs.redisServer && !ManagedRedis.binaryExists('redis-server')) {
    problems.push('redis.url: null, so Patchbay runs redis-server itself, but redis-server is not installed. Fix: apt-get install -y redis-server, or set redis.url to a Redis you run');
  }
  const listeners = needs.listeners ?? [];
  for (const [i, a] of listeners.entries()) {
    const clash = listeners.slice(0, i).find((b) => a.port !== 0 && b.port === a.port && (a.bind === b.bind || isWildcard(a.bind) || isWildcard(b.bind)));
    if (clash) problems.push(`${a.portKey}: ${a.port} is also ${clash.portKey}. Fix: give ${a.portKey} another port`);
    else {
      const problem = await listenerProblem(a);
      if (problem !== null) problems.push(problem.text);
    }
  }
  if (problems.length > 0) throw new PreflightError(problems);
}

/** Null when the folder exists (or can be made) and a file can be written in it. */
export function writableDirProblem(dir: string): string | null {
  const probe = join(dir, `.patchbay-write-check-${process.pid}`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(probe, '');
    rmSync(probe, { force: true });
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    const { name, uid } = currentUser();
    return (
      `data_dir: ${dir} is not writable by this user (${name}, uid ${uid}): ${code}. ` +
      `Fix: make it writable for that user (e.g. chown -R ${name} ${dir}), or set data_dir to a folder it can write`
    );
  }
}

/** Null when the port can be listened on now; otherwise the error code and what to change. */
export async function listenerProblem(l: Listener): Promise<{ code: string; text: string } | null> {
  if (l.port === 0) return null;
  const server = createServer();
  try {
    server.listen({ port: l.port, host: l.bind, exclusive: true });
    await Promise.race([
      once(server, 'listening'),
      once(server, 'error').then(([err]) => {
        throw err;
      }),
    ]);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    const where = listenerAddress(l);
    return { code, text: listenerProblemText(l, where, code) };
  } finally {
    if (server.listening) await new Promise((resolve) => server.close(resolve));
  }
}

/** `127.0.0.1:9000`, `[::1]:9000`. */
export function listenerAddress(l: Listener): string {
  return `${l.bind.includes(':') ? `[${l.bind}]` : l.bind}:${l.port}`;
}

function listenerProblemText(l: Listener, where: string, code: string): string {
  switch (code) {
    case 'EADDRINUSE':
      return `${l.portKey}: ${where} is in use by another program. Fix: stop that program, or set ${l.portKey} to a free port (0 picks any)`;
    case 'EACCES':
      return `${l.portKey}: ${l.port} is a privileged port this user (uid ${currentUser().uid}) may not listen on. Fix: set ${l.portKey} to a port above 1023 and put a reverse proxy in front`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${l.bindKey}: ${l.bind} is not an address of this machine (${code}). Fix: set ${l.bindKey} to one of its addresses, 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)`;
    default:
      return `${l.portKey}: cannot listen on ${where} (${code}). Fix: check ${l.bindKey} and ${l.portKey}`;
  }
}

function isWildcard(bind: string): boolean {
  return bind === '0.0.0.0' || bind === '::' || bind === '[::]';
}

function currentUser(): { name: string; uid: string } {
  const uid = String(process.getuid?.() ?? '?');
  try {
    return { name: userInfo().username, uid };
  } catch {
    // A uid without a passwd entry (some containers).
    return { name: uid, uid };
  }
}
