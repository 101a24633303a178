// Whether dist/ was built from exactly the sources there are now: a hash of every file tsc reads from
// the repository (the tsconfig's include folders, tsconfig.json, package.json and the lock, which pins
// the compiler and the type packages), kept in dist/ after a successful build. Reading ~300 small files
// takes milliseconds; an edit, a new or deleted file, a checkout or a lock change all change the hash.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const STAMP = join('dist', '.build-stamp');

/** The hash of everything the TypeScript build reads from the repository. */
export function sourceHash(root) {
  const hash = createHash('sha256');
  const add = (file) => hash.update(`${relative(root, file)}\0`).update(readFileSync(file)).update('\0');
  for (const file of ['tsconfig.json', 'package.json', 'package-lock.json']) add(join(root, file));
  const include = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')).include ?? [];
  for (const dir of include) for (const file of filesUnder(join(root, dir))) add(file);
  return hash.digest('hex');
}

/** True when dist/ holds a build of sources with this hash. */
export function buildIsCurrent(root, hash) {
  const stamp = join(root, STAMP);
  return existsSync(stamp) && readFileSync(stamp, 'utf8') === hash;
}

export function recordBuild(root, hash) {
  writeFileSync(join(root, STAMP), hash);
}

/**
 * Deletes what tsc emitted for sources that no longer exist: tsc never deletes output, and jest would
 * still run the compiled copy of a deleted or moved test. Done after a build rather than by emptying dist/
 * first, so a process running from dist/ meanwhile never loses a file it needs. Returns what it deleted.
 */
export function pruneStaleOutput(root) {
  const dist = join(root, 'dist');
  const deleted = [];
  for (const file of filesUnder(dist)) {
    const emitted = /\.(?:d\.ts|js)(?:\.map)?$/.exec(file);
    if (!emitted) continue;
    const source = join(root, relative(dist, file.slice(0, emitted.index)) + '.ts');
    if (existsSync(source)) continue;
    rmSync(file);
    deleted.push(relative(root, file));
  }
  return deleted;
}

function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}
