// The bootstrap skips the TypeScript build only when nothing the build reads has changed: an edited, added
// or deleted source, tsconfig.json, package.json or the lock file each make it build again.
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface BuildStamp {
  sourceHash(root: string): string;
  buildIsCurrent(root: string, hash: string): boolean;
  recordBuild(root: string, hash: string): void;
  pruneStaleOutput(root: string): string[];
}

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const stamp = (await import(pathToFileURL(join(repo, 'scripts', 'bootstrap', 'buildStamp.mjs')).href)) as BuildStamp;

describe('the build stamp', () => {
  let root: string;
  const write = (file: string, text: string): void => {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  };
  const filesIn = (dir: string): string[] =>
    (readdirSync(join(root, dir), { recursive: true, withFileTypes: true }) as Array<{ isFile(): boolean; parentPath: string; name: string }>)
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(join(root, dir).length + 1))
      .sort();
  const built = (): void => stamp.recordBuild(root, stamp.sourceHash(root));
  const current = (): boolean => stamp.buildIsCurrent(root, stamp.sourceHash(root));

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'pb-stamp-'));
    write('tsconfig.json', JSON.stringify({ include: ['src', 'test'] }));
    write('package.json', '{"type":"module"}');
    write('package-lock.json', '{"lockfileVersion":3}');
    write('src/a.ts', 'export const a = 1;\n');
    write('src/deep/b.ts', 'export const b = 2;\n');
    write('test/a.test.ts', 'import { a } from "../src/a.js";\n');
    write('notes/ignored.md', 'not read by tsc\n');
    mkdirSync(join(root, 'dist'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test('a build with no change since is current; without a stamp there is no build', () => {
    expect(current()).toBe(false);
    built();
    expect(current()).toBe(true);
    write('notes/ignored.md', 'changed, but outside the include folders\n');
    expect(current()).toBe(true);
    rmSync(join(root, 'dist'), { recursive: true });
    expect(current()).toBe(false);
  });

  test.each([
    ['an edited source', () => write('src/deep/b.ts', 'export const b = 3;\n')],
    ['a new source', () => write('test/b.test.ts', '\n')],
    ['a deleted source', () => unlinkSync(join(root, 'src', 'a.ts'))],
    ['a renamed source', () => (unlinkSync(join(root, 'src', 'a.ts')), write('src/c.ts', 'export const a = 1;\n'))],
    ['tsconfig.json', () => write('tsconfig.json', JSON.stringify({ include: ['src'] }))],
    ['package.json', () => write('package.json', '{"type":"commonjs"}')],
    ['the lock file', () => write('package-lock.json', '{"lockfileVersion":3,"packages":{}}')],
  ])('%s makes the build stale', (_what, change) => {
    built();
    change();
    expect(current()).toBe(false);
  });

  test('output of a deleted or moved source is pruned after a build; everything else in dist/ stays', () => {
    for (const file of ['dist/src/a.js', 'dist/src/a.js.map', 'dist/src/deep/b.js', 'dist/test/a.test.js', 'dist/.build-stamp']) write(file, '');
    for (const file of ['dist/test/gone.test.js', 'dist/test/gone.test.js.map', 'dist/src/moved.d.ts', 'dist/src/moved.d.ts.map']) write(file, '');
    expect(stamp.pruneStaleOutput(root).sort()).toEqual(
      ['dist/src/moved.d.ts', 'dist/src/moved.d.ts.map', 'dist/test/gone.test.js', 'dist/test/gone.test.js.map'].map((f) => join(f)),
    );
    expect(stamp.pruneStaleOutput(root)).toEqual([]);
    expect(filesIn('dist')).toEqual(['.build-stamp', 'src/a.js', 'src/a.js.map', 'src/deep/b.js', 'test/a.test.js'].map((f) => join(f)));
  });
});
