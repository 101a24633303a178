// Turns Ajv's errors into one line per bad key: the key path, the bad value, and the fix, worded
// from the `title`/`description`/`examples` annotations of config/schema.ts.
import type { ErrorObject, SchemaObject } from 'ajv';
import { didYouMean } from './didYouMean.js';
import { formatKeyPath, keyPathFromPointer, type KeyPath } from './keyPath.js';

const SECRET_KEY = /password|passphrase|secret|token|(^|_)key$/i;

/** `errors` must come from an Ajv instance created with `verbose: true` (for data and parentSchema). */
export function describeSchemaErrors(errors: readonly ErrorObject[], data: unknown, skipKeys: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const add = (key: string, line: string): void => {
    // One line per key: a bad value can break several keywords (type, pattern ...) at once.
    if (seen.has(key) || skipKeys.has(key)) return;
    seen.add(key);
    problems.push(line);
  };

  for (const error of errors) {
    if (error.propertyName !== undefined) continue; // reported by its `propertyNames` error below
    const path = keyPathFromPointer(error.instancePath, data);
    const parent = (error.parentSchema ?? {}) as SchemaObject;

    switch (error.keyword) {
      case 'additionalProperties': {
        const unknown = String((error.params as { additionalProperty: string }).additionalProperty);
        const known = Object.keys((parent.properties ?? {}) as Record<string, unknown>);
        const key = formatKeyPath([...path, unknown]);
        const suggestion = didYouMean(unknown, known);
        const under = path.length === 0 ? 'at the top level' : `under ${formatKeyPath(path)}`;
        add(
          key,
          suggestion
            ? `${key}: unknown key. Did you mean ${formatKeyPath([...path, suggestion])}? Fix: rename it to ${suggestion}`
            : `${key}: unknown key. Fix: remove it (the keys ${under} are: ${known.join(', ')})`,
        );
        break;
      }
      case 'required': {
        const missing = String((error.params as { missingProperty: string }).missingProperty);
        const child = ((parent.properties ?? {}) as Record<string, SchemaObject>)[missing] ?? {};
        const key = formatKeyPath([...path, missing]);
        add(key, `${key}: missing. Fix: ${fixFor(key, child)}`);
        break;
      }
      case 'propertyNames': {
        const name = String((error.params as { propertyName: string }).propertyName);
        const names = (parent.propertyNames ?? {}) as SchemaObject;
        const key = formatKeyPath([...path, name]);
        add(key, `${key}: "${name}" is not ${String(names.title ?? 'a valid name')}. Fix: rename it using ${String(names.description ?? 'valid characters')}, e.g. ${example(names)}`);
        break;
      }
      default: {
        const key = formatKeyPath(path);
        add(key, `${key}: ${showValue(path, error.data)} is not ${String(parent.title ?? 'valid')}. Fix: ${fixFor(key, parent)}`);
      }
    }
  }
  return problems;
}

function fixFor(key: string, schema: SchemaObject): string {
  const to = schema.description ? String(schema.description) : 'a valid value';
  return `set ${key} to ${to}${schema.examples ? `, e.g. ${example(schema)}` : ''}`;
}

function example(schema: SchemaObject): string {
  const first: unknown = Array.isArray(schema.examples) ? schema.examples[0] : undefined;
  return typeof first === 'string' ? first : JSON.stringify(first);
}

/** The bad value as written, except what lies under keys that hold secrets, whatever its type. */
export function showValue(path: KeyPath, value: unknown): string {
  if (value === undefined) return 'nothing';
  if (path.some((part) => typeof part === 'string' && isSecretKey(part)) && value !== '' && value !== null) return '(a hidden secret)';
  const shown = JSON.stringify(hideSecrets(value));
  return shown.length > 80 ? `${shown.slice(0, 77)}...` : shown;
}

/** `password`, `shared_secret`, `as_token`, a TLS `key`: names whose values are never repeated. */
export function isSecretKey(name: string): boolean {
  return SECRET_KEY.test(name);
}

/** A copy of a map or list with the values under secret keys replaced. */
function hideSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(hideSecrets);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isSecretKey(k) ? '(hidden)' : hideSecrets(v)]));
}
