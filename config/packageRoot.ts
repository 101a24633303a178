import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | null = null;

/**
 * The folder holding Patchbay's package.json. Found by walking up from this module, because the
 * code runs from dist/ in a checkout and from node_modules/patchbay/dist/ when installed.
 */
export function packageRoot(): string {
  if (cached) return cached;
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return (cached = dir);
    if (dirname(dir) === dir) throw new Error(`patchbay: no package.json above ${start}`);
  }
}

/** The shipped defaults, config/defaults.yaml in the package (not copied into dist/). */
export function defaultsFile(): string {
  return join(packageRoot(), 'config', 'defaults.yaml');
}
