import { Ajv, type ValidateFunction } from 'ajv';
import { describeSchemaErrors } from '../config/index.js';
import type { AppserviceRegistration } from './AppserviceRegistration.js';
import { RegistrationError } from './RegistrationError.js';
import { registrationSchema } from './registrationSchema.js';

let validator: ValidateFunction | null = null;

/**
 * Checks a parsed registration against the spec's rules and returns it typed. Throws
 * RegistrationError listing every problem, each naming its key; `source` (a file name) heads it.
 */
export function validateRegistration(value: unknown, source = 'registration'): AppserviceRegistration {
  validator ??= new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true }).compile(registrationSchema);
  const problems = validator(value) ? [] : describeSchemaErrors(validator.errors ?? [], value, new Set());
  // Regexes are checked even when other keys are wrong, so one run lists everything to fix.
  const namespaces = isMap(value) && isMap(value.namespaces) ? value.namespaces : {};
  for (const kind of ['users', 'aliases', 'rooms'] as const) {
    const list = namespaces[kind];
    if (!Array.isArray(list)) continue;
    list.forEach((entry: unknown, i: number) => {
      const regex = isMap(entry) ? entry.regex : undefined;
      const problem = typeof regex === 'string' ? regexProblem(regex) : null;
      if (problem) {
        problems.push(
          `namespaces.${kind}[${i}].regex: ${JSON.stringify(regex)} does not compile (${problem}). ` +
            'Fix: write a regular expression JavaScript and Python both accept, e.g. "@irc_.*:example\\\\.org"',
        );
      }
    });
  }
  if (problems.length > 0) throw new RegistrationError(source, problems);
  return value as AppserviceRegistration;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function regexProblem(regex: string): string | null {
  try {
    new RegExp(`^(?:${regex})`);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
