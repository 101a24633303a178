#!/usr/bin/env node
// Makes a fresh checkout runnable on Node 20, 22 or 24: installs the Debian packages a mode needs,
// installs npm dependencies when package-lock.json changed, compiles the TypeScript when a source
// changed, and makes sure a SQLite driver loads (node:sqlite is built into Node 22.16+; elsewhere it
// compiles better-sqlite3 for this Node). Says what it does and how long it takes. Uses nothing but Node,
// because it runs before node_modules exists.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildBetterSqlite } from './bootstrap/betterSqliteBuild.mjs';
import { buildIsCurrent, pruneStaleOutput, recordBuild, sourceHash } from './bootstrap/buildStamp.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const mode = process.argv[2] ?? 'run';

// The SIP suites' peers: the SBC (Kamailio with WebSocket, rtpengine in userspace: rtpengine-daemon, not
// the rtpengine metapackage, which also builds a kernel module) and baresip phones.
const SIP_PEERS = ['kamailio', 'kamailio-websocket-modules', 'rtpengine-daemon', 'baresip-core'];
// Debian packages per mode; tests also need the real peers the suites talk to, and a browser for the
// status page (driven by playwright-core, which downloads nothing).
const APT = {
  run: ['redis-server'],
  test: ['redis-server', 'ngircd', 'postfix', 'swaks', 'libio-socket-ssl-perl', 'chromium', ...SIP_PEERS],
  bench: ['redis-server', 'ngircd', 'postfix', ...SIP_PEERS],
};
// Answers for packages that would otherwise ask during install: Postfix gets no system configuration
// (the email tests run private instances with their own config folders).
const PRESEED = { postfix: 'postfix postfix/main_mailer_type select No configuration\n' };
// What node-gyp needs to compile better-sqlite3 (only on Nodes without node:sqlite).
const COMPILER = ['python3', 'make', 'g++'];

// npm and node-gyp run under this Node (they build for the Node they run on), not whichever is first on PATH.
const env = { ...process.env, PATH: [dirname(process.execPath), process.env.PATH].join(delimiter) };

// Progress goes to stderr, children's output too: stdout belongs to what runs after (the JSON of a benchmark).
const log = (line) => console.error(`bootstrap: ${line}`);
function fail(message) {
  console.error(`bootstrap: ${message}`);
  process.exit(1);
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['inherit', 2, 2], cwd: root, env, ...opts });
  if (r.status !== 0) fail(`'${cmd} ${args.join(' ')}' failed (exit ${r.status ?? r.signal})`);
}

function timed(what, fn) {
  const started = Date.now();
  fn();
  const s = (Date.now() - started) / 1000;
  log(`${what} in ${s < 10 ? s.toFixed(1) : Math.round(s)} s`);
}

function installed(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

function ensureDebianPackages(packages, why) {
  const missing = packages.filter((p) => !installed(p));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    fail(`missing Debian packages (${why}): ${missing.join(' ')}\n  install them with: sudo apt-get install -y ${missing.join(' ')}`);
  }
  const big = missing.includes('chromium') ? ', a few minutes with chromium' : '';
  log(`installing ${missing.join(' ')} (apt, ${why}; usually under a minute${big})`);
  timed('Debian packages installed', () => {
    sh('apt-get', ['update', '-qq']);
    const answers = missing.map((p) => PRESEED[p] ?? '').join('');
    if (answers !== '') sh('debconf-set-selections', [], { input: answers, stdio: ['pipe', 2, 2] });
    sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
      env: { ...env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  });
  // Debian starts packaged daemons on install; Patchbay and its tests start their own copies.
  for (const svc of ['redis-server', 'ngircd', 'postfix', 'kamailio', 'rtpengine-daemon']) if (missing.includes(svc)) spawnSync('service', [svc, 'stop'], { stdio: 'ignore' });
}

if (!existsSync(join(root, 'node_modules')) || !existsSync(join(root, 'dist'))) {
  log(`first run in this checkout: Debian packages, npm dependencies and the TypeScript build take a few minutes (about 2 on 2 cores with the packages installed, plus 80 s compiling better-sqlite3 on Node 20); later runs take a second`);
}

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) fail(`Patchbay needs Node 20 or newer; this is Node ${process.version}.`);

ensureDebianPackages(APT[mode] ?? APT.run, mode === 'run' ? 'Patchbay runs its own Redis' : 'the tests talk to real Redis, IRC and mail servers');

// npm dependencies when node_modules is missing or older than the lock file. Install scripts are left to
// this script: only those package.json's allowScripts approves run, and better-sqlite3 is compiled below
// only where it is needed.
const stamp = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
if (!existsSync(stamp) || statSync(stamp).mtimeMs < statSync(lock).mtimeMs) {
  log(`installing npm dependencies (about a minute the first time; ${existsSync(stamp) ? 'the lock file changed' : 'no node_modules yet'})`);
  timed('npm dependencies installed', () => {
    // Not `npm ci`: it rejects a lock that lacks other platforms' optional packages. `install --no-save`
    // installs the locked versions and leaves the lock alone.
    sh('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--ignore-scripts']);
    const allowed = Object.entries(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).allowScripts ?? {})
      .filter(([name, allow]) => allow === true && name !== 'better-sqlite3' && existsSync(join(root, 'node_modules', name)))
      .map(([name]) => name);
    if (allowed.length > 0) sh('npm', ['rebuild', '--no-audit', '--no-fund', ...allowed]);
  });
}

// The TypeScript build, skipped when no source changed since the last one.
const hash = sourceHash(root);
if (buildIsCurrent(root, hash)) {
  log('build is up to date (no source changed since the last one)');
} else {
  log('compiling TypeScript (about 10 s)');
  timed('built', () => sh(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']));
  // tsc writes files 0644; the CLI entry must stay executable.
  chmodSync(join(root, 'dist', 'bin', 'patchbay.js'), 0o755);
  const stale = pruneStaleOutput(root);
  if (stale.length > 0) log(`removed ${stale.length} compiled files whose sources are gone`);
  recordBuild(root, hash);
}

/** Which SQLite driver the homeserver will open here: the compiled code answers, in a child process. */
function sqliteDriver() {
  const driverModule = pathToFileURL(join(root, 'dist', 'homeserver', 'storage', 'SqliteDriver.js')).href;
  const script = `const m = await import(${JSON.stringify(driverModule)});
    const out = (o) => console.log(JSON.stringify(o));
    let requested;
    try { requested = m.requestedSqliteDriver(); const db = m.openSqlite(':memory:'); out({ driver: db.driver }); db.close(); }
    catch (e) { out({ requested, error: e.message }); }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
  if (r.status !== 0) fail(`could not check the SQLite driver:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

let sqlite = sqliteDriver();
if (sqlite.error && (sqlite.requested === 'auto' || sqlite.requested === 'better-sqlite3')) {
  ensureDebianPackages(COMPILER, 'to compile better-sqlite3 for this Node');
  const why = sqlite.requested === 'better-sqlite3' ? 'PATCHBAY_SQLITE_DRIVER=better-sqlite3' : 'this Node has no usable node:sqlite';
  log(`compiling better-sqlite3 for Node ${process.version} (${why}; about 80 s on 2 cores, once)`);
  const problem = buildBetterSqlite(root, env, log);
  if (problem) fail(problem);
  sqlite = sqliteDriver();
}
if (sqlite.error) fail(sqlite.error);
log(`SQLite driver: ${sqlite.driver}${sqlite.driver === 'node:sqlite' ? ` (built into Node ${process.version}; nothing to compile)` : ''}`);
