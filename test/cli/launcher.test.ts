// The `patchbay` command npm links (package.json's bin, which `npx patchbay`, `npm run patchbay` and
// `npm start` run): it must be a file of the repository, so npm links it even before the first build,
// and it must run the built CLI with the arguments it was given.
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };

describe('the patchbay launcher', () => {
  test('package.json links `patchbay` to an executable file of the repository, not a build output', () => {
    const target = pkg.bin['patchbay'];
    expect(target).toBeDefined();
    expect(target!.startsWith('dist/')).toBe(false);
    const file = join(repo, target!);
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o111).not.toBe(0);
    expect(readFileSync(file, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  test('npm start and npm run patchbay go through it', () => {
    expect(pkg.scripts['start']).toBe(`node ${pkg.bin['patchbay']} start`);
    expect(pkg.scripts['patchbay']).toBe(`node ${pkg.bin['patchbay']}`);
  });

  test('runs the CLI with its arguments, its stdout only the command output', () => {
    const r = spawnSync(process.execPath, [join(repo, pkg.bin['patchbay']!), 'register', '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: patchbay register /);
  });
});
