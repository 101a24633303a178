#!/usr/bin/env node
// The `patchbay` command as package.json's bin names it (`npm start`, `npm run patchbay -- doctor`,
// `npx patchbay doctor` inside the checkout). It is a file in the repository, not in dist/, so npm can
// link it before the first build: npm skips a bin whose file is missing, and npx keeps that link-less
// install in its cache for good. When dist/ or node_modules is missing or stale it runs the bootstrap
// first (it reports on stderr, so the command's stdout stays clean), then runs the CLI in this process.
// Installed from the registry or a tarball, it just runs the CLI.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildIsCurrent, sourceHash } from './bootstrap/buildStamp.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'bin', 'patchbay.js');

function upToDate() {
  const installed = join(root, 'node_modules', '.package-lock.json');
  return (
    existsSync(installed) &&
    statSync(installed).mtimeMs >= statSync(join(root, 'package-lock.json')).mtimeMs &&
    existsSync(cli) &&
    buildIsCurrent(root, sourceHash(root))
  );
}

// An installed package (a plugin's dependency) ships dist/ and no sources: there is nothing to build.
const checkout = existsSync(join(root, 'tsconfig.json'));
if (checkout && !upToDate()) {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'bootstrap.mjs'), 'run'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

process.argv = [process.argv[0], cli, ...process.argv.slice(2)];
await import(pathToFileURL(cli).href);
