import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import yaml from 'js-yaml';
import type { AppserviceRegistration } from './AppserviceRegistration.js';
import { RegistrationError } from './RegistrationError.js';
import { validateRegistration } from './validateRegistration.js';

/** Reads and validates a registration YAML file; unknown keys are kept. Throws RegistrationError. */
export async function readRegistrationFile(path: string): Promise<AppserviceRegistration> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(err);
    throw new RegistrationError(path, [`cannot read it (${why}). Fix: check the path, or create one with: patchbay register`]);
  }
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: path });
  } catch (err) {
    if (err instanceof yaml.YAMLException) {
      throw new RegistrationError(`${path}:${err.mark.line + 1}:${err.mark.column + 1}`, [`${err.reason}. Fix: correct the YAML there`]);
    }
    throw err;
  }
  return validateRegistration(doc, path);
}

/**
 * Validates and writes a registration as YAML, readable by its owner only (it holds both tokens).
 * Written to a temporary file and renamed, so a crash never leaves half a registration behind.
 */
export async function writeRegistrationFile(path: string, reg: AppserviceRegistration): Promise<void> {
  // JSON round trip drops undefined optional keys, which YAML cannot represent.
  const plain: unknown = JSON.parse(JSON.stringify(reg));
  validateRegistration(plain, path);
  const text = yaml.dump(plain, { lineWidth: -1, noRefs: true });
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, text, { mode: 0o600, flag: 'wx' });
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}
