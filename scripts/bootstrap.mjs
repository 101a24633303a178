#!/usr/bin/env node
// Makes a fresh checkout runnable: installs the Debian packages a mode needs, installs npm
// dependencies when package-lock.json changed, and compiles the TypeScript. Uses nothing but Node,
// because it runs before node_modules exists.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const mode = process.argv[2] ?? 'run';

// Debian packages per mode; tests also need the real peers the suites talk to.
const APT = {
  run: ['redis-server'],
  test: ['redis-server', 'ngircd'],
  bench: ['redis-server', 'ngircd'],
};

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) {
    console.error(`bootstrap: '${cmd} ${args.join(' ')}' failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

function installed(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

const missing = (APT[mode] ?? APT.run).filter((p) => !installed(p));
if (missing.length > 0) {
  if (process.getuid?.() !== 0) {
    console.error(`bootstrap: missing Debian packages: ${missing.join(' ')}\n  install them with: sudo apt-get install -y ${missing.join(' ')}`);
    process.exit(1);
  }
  console.log(`bootstrap: installing ${missing.join(' ')} (apt)`);
  sh('apt-get', ['update', '-qq']);
  sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  // Debian starts packaged daemons on install; Patchbay and its tests start their own copies.
  for (const svc of ['redis-server', 'ngircd']) spawnSync('service', [svc, 'stop'], { stdio: 'ignore' });
}

// npm ci when node_modules is missing or older than the lock file.
const stamp = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
if (!existsSync(stamp) || statSync(stamp).mtimeMs < statSync(lock).mtimeMs) {
  console.log('bootstrap: installing npm dependencies');
  // Not `npm ci`: npm 11 leaves other platforms' optional packages out of the lock file and then ci
  // refuses it as out of sync. `install --no-save` installs the locked versions and leaves the lock alone.
  sh('npm', ['install', '--no-save', '--no-audit', '--no-fund']);
}
// npm may skip install scripts it has not been told to trust; the homeserver cannot start without
// the native SQLite module, so check it really built.
try {
  execFileSync(process.execPath, ['-e', "new (require('better-sqlite3'))(':memory:')"], { cwd: root, stdio: 'pipe' });
} catch {
  console.log('bootstrap: building better-sqlite3');
  sh('npm', ['rebuild', 'better-sqlite3']);
}

sh(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
// tsc writes files 0644; the CLI entry must stay executable for `npx patchbay`.
chmodSync(join(root, 'dist', 'bin', 'patchbay.js'), 0o755);
