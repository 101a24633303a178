// Writes a TestAppservice's registration as the YAML file the homeserver's app_service_config_files lists.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import type { TestAppservice } from './TestAppservice.js';

/** Writes `<dir>/<id>.yaml` (dir: a fresh temp dir by default) and returns its path. */
export function writeAppserviceRegistration(appservice: TestAppservice, dir: string = mkdtempSync(join(tmpdir(), 'patchbay-as-'))): string {
  const file = join(dir, `${appservice.id}.yaml`);
  writeFileSync(file, YAML.stringify(appservice.registration()), { mode: 0o600 });
  return file;
}
