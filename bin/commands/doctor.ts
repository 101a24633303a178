// `patchbay doctor`: checks a deployment from the config outward (config, bridges, data_dir, ports, Redis,
// registration, homeserver, as_token, host and each bridge connection it reports, the homeserver->host
// ping) and prints one line per check and per problem, ✓ or ✗ with the fix. A check that needs an earlier
// one that failed is listed as not checked. Exit 0 when all pass.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ConfigError, type PatchbayConfig } from '../../config/index.js';
import type { LoadedPlugin } from '../../core/plugin/index.js';
import { ManagedRedis } from '../../core/redis/ManagedRedis.js';
import { readRegistrationFile, RegistrationError, type AppserviceRegistration } from '../../registration/index.js';
import { ExitCode, type Command, type CommandContext } from '../Command.js';
import { loadPlugins, withBridgeProblems } from '../hostOptions.js';
import { uncoveredBridges } from '../HostRegistrationFile.js';
import { federationListener, homeserverListener, hostListener, listenerAddress, listenerProblem, writableDirProblem, type Listener } from '../Preflight.js';
import { actingHomeserverUrl, hostServerName, listenerUrl } from '../processUrls.js';
import { describeRedisUrl, redisConnectionFor } from '../redisConnection.js';

const TIMEOUT_MS = 10_000;

export const command: Command = {
  usage: '[--config FILE]',
  description: [
    'Checks that the pieces of a deployment work together, one line each (✓, or ✗ with the fix): the config,',
    'the bridges, that data_dir is writable, that host.port and homeserver.port are free or served by',
    'Patchbay, Redis, the registration file (present, valid, covering every enabled bridge), the',
    'homeserver (GET /_matrix/client/versions), the as_token (whoami), the host (/health) and the homeserver',
    'reaching the host (the appservice ping). Run it beside `patchbay start`, or with the config of a',
    '`patchbay host`. Exit 0 when everything passes, 1 otherwise.',
  ].join('\n'),
  options: {},
  run,
};

type Outcome = { ok: true; text: string } | { ok: false; text: string } | { ok: null; text: string };
const pass = (text: string): Outcome => ({ ok: true, text });
const failure = (text: string): Outcome => ({ ok: false, text });
const notChecked = (text: string): Outcome => ({ ok: null, text });

async function run(ctx: CommandContext): Promise<number> {
  const outcomes: Outcome[] = [];
  const report = (name: string, outcome: Outcome): Outcome => {
    outcomes.push(outcome);
    const mark = outcome.ok === true ? '✓' : outcome.ok === false ? '✗' : '-';
    ctx.out(`${mark} ${name}: ${outcome.text}`);
    return outcome;
  };

  let config: PatchbayConfig;
  try {
    config = ctx.config();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // One line per problem, the bridges' with the rest; nothing else can be checked without a valid config.
    for (const problem of (await withBridgeProblems(err)).problems) report('config', failure(problem));
    ctx.out(`${outcomes.length} problems in the configuration (${err.source ?? 'defaults'}); fix them, then run doctor again.`);
    return ExitCode.failure;
  }
  const source = ctx.option('config') ?? (ctx.env.PATCHBAY_CONFIG || null);
  report('config', pass(`valid (${source ? `defaults + ${source}` : 'defaults only'})`));

  let plugins: LoadedPlugin[] | null = null;
  try {
    plugins = await loadPlugins(config);
    report('bridges', pass(plugins.length ? plugins.map((p) => `${p.name} (${p.source})`).join(', ') : 'none enabled'));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) report('bridges', failure(problem));
  }

  const dirProblem = writableDirProblem(config.data_dir);
  report('data_dir', dirProblem === null ? pass(`${config.data_dir} is writable`) : failure(dirProblem));
  report('ports', await checkPort(hostListener(config), '/health', 'the appservice host'));
  if (config.homeserver.enabled) report('ports', await checkPort(homeserverListener(config), '/_matrix/client/versions', 'the embedded homeserver'));
  const federation = config.homeserver.enabled ? federationListener(config) : null;
  if (federation) report('ports', await checkPort(federation, '/_matrix/key/v2/server', 'the embedded homeserver\'s federation listener'));
  report('redis', await checkRedis(config));
  const registration = await checkRegistration(config, plugins, (o) => report('registration', o));

  let homeserverUrl: string | null = null;
  try {
    homeserverUrl = actingHomeserverUrl(config);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) report('homeserver', failure(problem));
  }
  const homeserverUp = homeserverUrl !== null && report('homeserver', await checkHomeserver(homeserverUrl)).ok === true;

  if (!registration || !homeserverUp || homeserverUrl === null) {
    const why = !registration ? 'no valid registration' : 'the homeserver is not reachable';
    report('as_token', notChecked(`not checked: ${why}`));
  } else {
    report('as_token', await checkAsToken(homeserverUrl, registration, hostServerName(config)));
  }

  if (!registration || registration.url === null) {
    report('host', notChecked('not checked: no registration url'));
  } else {
    const host = await checkHost(registration.url);
    report('host', host.outcome);
    for (const [name, outcome] of connectionChecks(host.health)) report(name, outcome);
  }

  if (!registration || !homeserverUp || homeserverUrl === null) {
    report('ping', notChecked(`not checked: ${!registration ? 'no valid registration' : 'the homeserver is not reachable'}`));
  } else {
    report('ping', await checkPing(homeserverUrl, registration));
  }

  const failed = outcomes.filter((o) => o.ok !== true).length;
  ctx.out(failed === 0 ? 'All checks passed.' : `${failed} of ${outcomes.length} checks did not pass.`);
  return failed === 0 ? ExitCode.ok : ExitCode.failure;
}

/** A listener's port: free, or taken by the Patchbay process that should have it (it answers `path`), or by another program. */
async function checkPort(l: Listener, path: string, what: string): Promise<Outcome> {
  const where = listenerAddress(l);
  if (l.port === 0) return pass(`${l.portKey} is 0: any free port is taken at start`);
  const problem = await listenerProblem(l);
  if (problem === null) return pass(`${l.portKey} ${where} is free`);
  if (problem.code !== 'EADDRINUSE') return failure(problem.text);
  // A program that is not ours may take the connection and never answer.
  const answer = await request(`${listenerUrl(l.bind, l.port)}${path}`, { timeoutMs: 2_000 });
  if (!('error' in answer) && answer.body !== null && typeof answer.body === 'object') return pass(`${l.portKey} ${where} is served by ${what}`);
  return failure(problem.text);
}

async function checkRedis(config: PatchbayConfig): Promise<Outcome> {
  if (config.redis.url === null) {
    if (!ManagedRedis.binaryExists('redis-server')) {
      return failure(
        'redis.url is null, so `patchbay start` runs redis-server itself, but redis-server is not installed. ' +
          'Fix: apt-get install -y redis-server, or set redis.url to a Redis you run',
      );
    }
    const socket = join(config.data_dir, 'redis', 'redis.sock');
    const running = existsSync(socket) && (await ping({ path: socket })) !== null;
    return pass(
      `redis.url is null: \`patchbay start\` runs its own redis-server on ${socket} (${running ? 'running now' : 'not running now; start starts it'}). ` +
        '`patchbay host` and `patchbay worker` need redis.url',
    );
  }
  const label = describeRedisUrl(config.redis.url);
  const version = await ping(redisConnectionFor(config.redis.url));
  if (typeof version === 'string') return pass(`${label} answers (Redis ${version})`);
  return failure(`${label} does not answer${version === null ? '' : ` (${version.error})`}. Fix: start that Redis, or correct redis.url`);
}

/** The server's version when it answers PING, else the error (null: no details). */
async function ping(target: ReturnType<typeof redisConnectionFor>): Promise<string | { error: string } | null> {
  const options = { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3_000, commandTimeout: 3_000 };
  const client = typeof target === 'string' ? new Redis(target, options) : new Redis({ ...target, ...options });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    const info = await client.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown version';
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  } finally {
    client.disconnect();
  }
}

async function checkRegistration(
  config: PatchbayConfig,
  plugins: LoadedPlugin[] | null,
  report: (o: Outcome) => void,
): Promise<AppserviceRegistration | null> {
  const path = config.host.registration;
  if (!existsSync(path)) {
    report(failure(`${path} does not exist. Fix: run \`patchbay start\` or \`patchbay host\` once (they write it), or \`patchbay register\``));
    return null;
  }
  let reg: AppserviceRegistration;
  try {
    reg = await readRegistrationFile(path);
  } catch (err) {
    if (!(err instanceof RegistrationError)) throw err;
    for (const problem of err.problems) report(failure(`${err.source}: ${problem}`));
    return null;
  }
  const problems: string[] = [];
  if (reg.url === null) problems.push('its url is null, so the homeserver sends the host nothing. Fix: restart `patchbay start`/`patchbay host`, which set it from host.url');
  if (plugins) {
    const uncovered = uncoveredBridges(reg, plugins, hostServerName(config));
    if (uncovered.length) {
      problems.push(
        `its namespaces do not cover the bridges ${uncovered.join(', ')} on ${hostServerName(config)}. ` +
          'Fix: restart `patchbay start`/`patchbay host`, which update them (keeping the tokens), then have the homeserver load the file again',
      );
    }
  }
  if (problems.length) {
    for (const problem of problems) report(failure(`${path}: ${problem}`));
    // The tokens may still be right: the later checks still tell something.
    return reg;
  }
  report(pass(`${path}: id ${reg.id}, url ${reg.url}, covers ${plugins?.map((p) => p.name).join(', ') || 'no bridges'}`));
  return reg;
}

async function checkHomeserver(url: string): Promise<Outcome> {
  const res = await request(`${url}/_matrix/client/versions`);
  if ('error' in res) {
    return failure(
      `${url} does not answer (${res.error}). Fix: start it (\`patchbay start\` or \`patchbay homeserver\`), ` +
        'or set host.homeserver_url to your homeserver\'s Client-Server URL',
    );
  }
  const versions = (res.body as { versions?: unknown } | null)?.versions;
  if (res.status !== 200 || !Array.isArray(versions) || versions.length === 0) {
    return failure(`${url}/_matrix/client/versions answered ${res.status} without a versions list: is host.homeserver_url a Matrix homeserver?`);
  }
  return pass(`${url} answers (Matrix ${versions[0]} … ${versions[versions.length - 1]})`);
}

async function checkAsToken(homeserverUrl: string, reg: AppserviceRegistration, serverName: string): Promise<Outcome> {
  const expected = `@${reg.sender_localpart}:${serverName}`;
  const res = await request(`${homeserverUrl}/_matrix/client/v3/account/whoami`, { token: reg.as_token });
  if ('error' in res) return failure(`whoami failed (${res.error})`);
  const body = res.body as { user_id?: unknown; errcode?: unknown; error?: unknown } | null;
  if (res.status === 200 && body?.user_id === expected) return pass(`accepted by the homeserver; the host acts as ${expected}`);
  if (res.status === 200) {
    return failure(`the homeserver says this as_token is ${String(body?.user_id)}, not the appservice's sender ${expected}. Fix: check host.server_name and sender_localpart`);
  }
  return failure(
    `the homeserver refused the as_token of the registration (${res.status} ${String(body?.errcode ?? '')}: ${String(body?.error ?? '')}). ` +
      'Fix: give the homeserver this very registration file (homeserver.app_service_config_files, or Synapse\'s app_service_config_files) and restart it or send it SIGHUP',
  );
}

/** The part of the host's /health that doctor reads. */
interface HostHealth {
  status?: string;
  role?: string;
  partitions?: number;
  redis?: { error?: string };
  workers?: { unserved_partitions?: number[] };
  bridges?: Array<{ bridge: string; connections: Array<{ connection: string; state: string; reason?: string; stale: boolean }> }> | null;
}

async function checkHost(hostUrl: string): Promise<{ outcome: Outcome; health: HostHealth | null }> {
  const base = hostUrl.replace(/\/$/, '');
  const res = await request(`${base}/health`);
  if ('error' in res) {
    return { outcome: failure(`${base} does not answer (${res.error}). Fix: start \`patchbay start\` or \`patchbay host\`, or correct host.url (the registration's url)`), health: null };
  }
  const health = res.body as HostHealth | null;
  if (res.status !== 200 || health === null || health.status === 'unavailable') {
    return { outcome: failure(`${base}/health says ${health?.status ?? res.status}${health?.redis?.error ? ` (Redis: ${health.redis.error})` : ''}. Fix: check that the host reaches redis.url`), health: null };
  }
  const unserved = health.workers?.unserved_partitions ?? [];
  if (unserved.length > 0) {
    const outcome = failure(
      `${base}: no worker consumes partitions ${unserved.join(', ')}, so their events wait. ` +
        'Fix: start `patchbay worker` processes (with the same redis.url, host.partitions and registration)',
    );
    return { outcome, health };
  }
  return { outcome: pass(`${base}/health ok (role ${health.role}, ${health.partitions} partitions, all served)`), health };
}

/** One line per remote connection the bridges report (an IRC network, a SIP line, the SMTP listener). */
function connectionChecks(health: HostHealth | null): Array<[string, Outcome]> {
  const out: Array<[string, Outcome]> = [];
  for (const { bridge, connections } of health?.bridges ?? []) {
    for (const c of connections) {
      const name = `${bridge} ${c.connection}`;
      const reason = c.reason ? `: ${c.reason}` : '';
      if (c.stale) out.push([name, failure(`last reported ${c.state}, but no running process confirms it any more. Fix: check that the process running bridges.${bridge} is up`)]);
      else if (c.state === 'connected') out.push([name, pass('connected')]);
      else if (c.state === 'failed' || c.state === 'backoff') out.push([name, failure(`${c.state}${reason}`)]);
      else out.push([name, pass(`${c.state}${reason}`)]);
    }
  }
  return out;
}

async function checkPing(homeserverUrl: string, reg: AppserviceRegistration): Promise<Outcome> {
  const transactionId = `doctor-${randomBytes(6).toString('hex')}`;
  const res = await request(`${homeserverUrl}/_matrix/client/v1/appservice/${encodeURIComponent(reg.id)}/ping`, {
    token: reg.as_token,
    body: { transaction_id: transactionId },
  });
  if ('error' in res) return failure(`the ping request failed (${res.error})`);
  const body = res.body as { duration_ms?: unknown; errcode?: string; error?: string; status?: number } | null;
  if (res.status === 200 && typeof body?.duration_ms === 'number') {
    return pass(`the homeserver reached the host at ${reg.url} and back in ${body.duration_ms} ms`);
  }
  const code = body?.errcode ?? String(res.status);
  switch (code) {
    case 'M_BAD_STATUS':
      if (body?.status === 401 || body?.status === 403) {
        return failure(
          `the host refused the homeserver's hs_token (the host answered ${body.status}): they hold different registration files. ` +
            'Fix: give the homeserver and the host the same file, then restart the host (it reads hs_token at start) and reload the homeserver',
        );
      }
      return failure(`the host answered the homeserver's ping with status ${String(body?.status)}. Fix: check the host's log`);
    case 'M_CONNECTION_FAILED':
    case 'M_CONNECTION_TIMEOUT':
      return failure(
        `the homeserver cannot reach the host at ${reg.url} (${code}). Fix: start the host there, or set host.url to an address ` +
          'the homeserver can reach and restart the host (it updates the registration), then reload the homeserver',
      );
    case 'M_URL_NOT_SET':
      return failure('the homeserver has the registration with url null. Fix: restart the host (it sets url), then reload the homeserver');
    case 'M_FORBIDDEN':
    case 'M_UNKNOWN_TOKEN':
      return failure(`the homeserver does not accept this as_token for appservice ${reg.id} (${code}). Fix: give the homeserver this very registration file and reload it`);
    case 'M_UNRECOGNIZED':
      return failure('the homeserver does not offer the appservice ping (Matrix 1.7). Fix: upgrade it (Synapse 1.84 or later)');
    default:
      return failure(`the ping failed: ${res.status} ${code}${body?.error ? `: ${body.error}` : ''}`);
  }
}

interface HttpAnswer {
  status: number;
  body: unknown;
}

async function request(url: string, options: { token?: string; body?: unknown; timeoutMs?: number } = {}): Promise<HttpAnswer | { error: string }> {
  try {
    const res = await fetch(url, {
      method: options.body === undefined ? 'GET' : 'POST',
      headers: {
        ...(options.token !== undefined && { Authorization: `Bearer ${options.token}` }),
        ...(options.body !== undefined && { 'Content-Type': 'application/json' }),
      },
      ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
      signal: AbortSignal.timeout(options.timeoutMs ?? TIMEOUT_MS),
    });
    const text = await res.text();
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    return { status: res.status, body };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { error: cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err)) };
  }
}
