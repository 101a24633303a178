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
  const headers = nodeHeaders(env);
  if (headers.problem) return headers.problem;
  cpSync(pkg, work, { recursive: true, filter: (src) => src !== join(pkg, 'build') });
  const buildEnv = { ...env };
  // No nodedir at all: node-gyp downloads this Node's headers itself.
  if (headers.dir) buildEnv.npm_config_nodedir = headers.dir;
  else delete buildEnv.npm_config_nodedir;
  const started = Date.now();
  const r = spawnSync('npm', ['run', 'build-release'], { cwd: work, env: buildEnv, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  writeFileSync(logFile, `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`);
  const module = join(work, 'build', 'Release', 'better_sqlite3.node');
  const loadError = r.status === 0 ? loads(pkg, module, env) : null;
  if (r.status !== 0 || loadError !== null) {
    rmSync(work, { recursive: true, force: true });
    const why = r.status !== 0 ? `the compile failed (exit ${r.status ?? r.signal}); its output is in ${logFile}:\n${tail(logFile)}` : `the module it built does not load: ${loadError}`;
    const download = headers.dir ? '' : `\n  node-gyp had to download Node ${WANT}'s C headers (none were found here); offline, set npm_config_nodedir to a folder with include/node for this Node.`;
    return (
      `better-sqlite3 could not be built for Node ${WANT}: ${why}${download}\n` +
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

/**
 * Where node-gyp finds this Node's C headers: `{ dir }` (npm's nodedir when it matches this Node, else the
 * folder beside this node binary), `{ dir: null }` when no nodedir is set and node-gyp may download them,
 * or `{ problem }` when npm's nodedir is another Node's: compiling against it builds a module this Node
 * cannot load, and node-gyp would not look elsewhere.
 */
function nodeHeaders(env) {
  const configured = env.npm_config_nodedir || npmConfig('nodedir', env);
  const beside = resolve(dirname(process.execPath), '..');
  for (const dir of [configured, beside]) if (dir && headerVersion(dir) === WANT) return { dir };
  if (!configured) return { dir: null };
  const has = headerVersion(configured);
  return {
    problem:
      `better-sqlite3 cannot be compiled for Node ${WANT} here: npm's nodedir (${configured}) has ${has ? `Node ${has}'s C headers` : 'no Node headers'}, ` +
      `and none for Node ${WANT} were found beside ${process.execPath}.\n` +
      `  Set npm_config_nodedir to a folder with this Node's include/node, or remove nodedir from your npm config so node-gyp downloads them.\n` +
      '  Or run Patchbay on Node 22.16 or newer: it has node:sqlite built in and needs no compiled module.',
  };
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
  if (r.status === 0) return null;
  const message = r.stderr.replace(/\s+/g, ' ');
  const abi = /NODE_MODULE_VERSION (\d+)\. This version of Node\.js requires NODE_MODULE_VERSION (\d+)/.exec(message);
  return abi ? `it was compiled for NODE_MODULE_VERSION ${abi[1]}, this Node needs ${abi[2]}` : message.slice(0, 400);
}

function tail(file, lines = 15) {
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `    ${l}`).join('\n');
}
