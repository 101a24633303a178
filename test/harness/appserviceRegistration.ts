// Writes a TestAppservice's registration as the YAML file the homeserver's app_service_config_files lists,
// through registration/ (validated, owner-only, atomic), as `patchbay register` would.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRegistrationFile } from '../../registration/index.js';
import type { TestAppservice } from './TestAppservice.js';

/** Writes `<dir>/<id>.yaml` (dir: a fresh temp dir by default) and returns its path. */
export async function writeAppserviceRegistration(appservice: TestAppservice, dir: string = mkdtempSync(join(tmpdir(), 'patchbay-as-'))): Promise<string> {
  const file = join(dir, `${appservice.id}.yaml`);
  await writeRegistrationFile(file, appservice.registration());
  return file;
}
