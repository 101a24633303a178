import { Ajv, type ValidateFunction } from 'ajv';
import { describeSchemaErrors } from '../config/index.js';
import type { AppserviceRegistration, Namespace } from './AppserviceRegistration.js';
import { RegistrationError } from './RegistrationError.js';
import { registrationSchema } from './registrationSchema.js';

let validator: ValidateFunction | null = null;

/**
 * Checks a parsed registration against the spec's rules and returns it typed. Throws
 * RegistrationError listing every problem, each naming its key; `source` (a file name) heads it.
 */
export function validateRegistration(value: unknown, source = 'registration'): AppserviceRegistration {
  validator ??= new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true }).compile(registrationSchema);
  if (!validator(value)) {
    throw new RegistrationError(source, describeSchemaErrors(validator.errors ?? [], value, new Set()));
  }
  const registration = value as AppserviceRegistration;
  const problems: string[] = [];
  for (const kind of ['users', 'aliases', 'rooms'] as const) {
    (registration.namespaces[kind] ?? []).forEach((namespace: Namespace, i: number) => {
      const problem = regexProblem(namespace.regex);
      if (problem) {
        problems.push(
          `namespaces.${kind}[${i}].regex: ${JSON.stringify(namespace.regex)} does not compile (${problem}). ` +
            'Fix: write a regular expression JavaScript and Python both accept, e.g. "@irc_.*:example\\\\.org"',
        );
      }
    });
  }
  if (problems.length > 0) throw new RegistrationError(source, problems);
  return registration;
}

function regexProblem(regex: string): string | null {
  try {
    new RegExp(`^(?:${regex})`);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
