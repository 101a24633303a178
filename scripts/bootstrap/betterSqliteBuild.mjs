// Compiles better-sqlite3's native module for the running Node, for Nodes without a usable node:sqlite
// (Node 20). It builds in a copy of the package and swaps the result in only after it loaded, so an
// interrupted or failed compile never leaves a half-built module behind and never replaces one that
// works under another Node. node-gyp compiles against the headers in npm's `nodedir`; this machine's
// ~/.npmrc points that at /usr (Debian's Node 20), so the headers are checked against this Node first.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const WANT = process.versions.node;

/**
 * Builds better-sqlite3 for this Node. `env` is the environment npm runs in (PATH leads to this Node).
 * Returns null on success, else what went wrong and what to do, in a few lines.
 */
export function buildBetterSqlite(root, env, log) {
  const pkg = join(root, 'node_modules', 'better-sqlite3');
  const work = join(root, 'node_modules', '.better-sqlite3-build');
  const logFile = join(root, 'node_modules', '.better-sqlite3-build.log');
  if (!existsSync(join(pkg, 'package.json'))) return 'better-sqlite3 is not in node_modules: run npm install, then this again.';

  rmSync(work, { recursive: true, force: true }); // left by an interrupted build
  cpSync(pkg, work, { recursive: true, filter: (src) => src !== join(pkg, 'build') });
  const headers = nodeHeaders(env, log);
  const started = Date.now();
  const r = spawnSync('npm', ['run', 'build-release'], {
    cwd: work,
    env: { ...env, npm_config_nodedir: headers ?? '' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  writeFileSync(logFile, `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`);
  const module = join(work, 'build', 'Release', 'better_sqlite3.node');
  const loadError = r.status === 0 ? loads(pkg, module, env) : null;
  if (r.status !== 0 || loadError !== null) {
    rmSync(work, { recursive: true, force: true });
    const why = r.status !== 0 ? `the compile failed (exit ${r.status ?? r.signal}); its output is in ${logFile}:\n${tail(logFile)}` : `the module it built does not load: ${loadError}`;
    const noHeaders = headers === null ? `\n  No C headers for Node ${WANT} were found and node-gyp could not download them: set npm_config_nodedir to a folder with include/node for this Node.` : '';
    return (
      `better-sqlite3 could not be built for Node ${WANT}: ${why}${noHeaders}\n` +
      '  It needs python3, make and g++ (apt-get install -y python3 make g++). Or run Patchbay on Node 22.16 or newer:\n' +
      '  it has node:sqlite built in and needs no compiled module.'
    );
  }
  // Two renames: at every moment build/ is either the old module or the new one, both complete.
  const previous = join(pkg, 'build.previous');
  rmSync(previous, { recursive: true, force: true });
  if (existsSync(join(pkg, 'build'))) renameSync(join(pkg, 'build'), previous);
  renameSync(join(work, 'build'), join(pkg, 'build'));
  rmSync(previous, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  log(`better-sqlite3 built for Node ${WANT} in ${Math.round((Date.now() - started) / 1000)} s`);
  return null;
}

/** A folder whose include/node has this Node's headers: npm's nodedir when it matches, else the one beside this node binary. */
function nodeHeaders(env, log) {
  const configured = env.npm_config_nodedir || npmConfig('nodedir', env);
  const candidates = [configured, resolve(dirname(process.execPath), '..')].filter(Boolean);
  const match = candidates.find((dir) => headerVersion(dir) === WANT) ?? null;
  if (configured && match !== configured) {
    const has = headerVersion(configured);
    log(
      `npm's nodedir (${configured}) has ${has ? `Node ${has}'s headers` : 'no Node headers'}, not Node ${WANT}'s: ` +
        (match ? `compiling against ${match} instead` : 'leaving it to node-gyp to fetch the right ones'),
    );
  }
  return match;
}

function headerVersion(dir) {
  const file = join(dir, 'include', 'node', 'node_version.h');
  if (!existsSync(file)) return null;
  const text = readFileSync(file, 'utf8');
  const part = (name) => new RegExp(`#define NODE_${name}_VERSION (\\d+)`).exec(text)?.[1];
  return [part('MAJOR'), part('MINOR'), part('PATCH')].join('.');
}

function npmConfig(key, env) {
  const r = spawnSync('npm', ['config', 'get', key], { env, encoding: 'utf8' });
  const value = r.status === 0 ? r.stdout.trim() : '';
  return value === '' || value === 'undefined' || value === 'null' ? null : value;
}

/** Loads the freshly built module in a child process (a module cannot be unloaded from this one). */
function loads(pkg, module, env) {
  const script = `new (require(${JSON.stringify(pkg)}))(':memory:', { nativeBinding: ${JSON.stringify(module)} }).close()`;
  const r = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
  return r.status === 0 ? null : (r.stderr.split('\n').find((l) => /Error/.test(l)) ?? r.stderr.trim());
}

function tail(file, lines = 15) {
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `    ${l}`).join('\n');
}
