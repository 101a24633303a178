import { formatKeyPath, type KeyPath } from './keyPath.js';
import { isConfigMap } from './mergeConfig.js';

export interface InterpolationResult {
  value: unknown;
  /** One line per problem, naming the key and the variable. */
  problems: string[];
  /** Keys (formatted) whose value could not be resolved, so later checks need not repeat them. */
  failedKeys: Set<string>;
}

/**
 * Called for a value that is exactly one reference (`port: ${PORT}`): environment values are text,
 * so the caller may turn it into the number/boolean/null that key expects.
 */
export type ConvertWhole = (path: KeyPath, text: string) => unknown;

// `$${` is a literal `${`; otherwise `${NAME}` or `${NAME:-fallback}` (shell semantics: the fallback
// is used when NAME is unset or empty).
const REFERENCE = /\$(\$)?\{([^}]*)(\})?/g;
const INNER = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

/** Replaces environment references in every string value (not keys) of a configuration tree. */
export function interpolateEnv(tree: unknown, env: NodeJS.ProcessEnv, convert?: ConvertWhole): InterpolationResult {
  const problems: string[] = [];
  const failedKeys = new Set<string>();

  const visit = (node: unknown, path: Array<string | number>): unknown => {
    if (typeof node === 'string') return resolveString(node, path);
    if (Array.isArray(node)) return node.map((item, i) => visit(item, [...path, i]));
    if (isConfigMap(node)) {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) {
        Object.defineProperty(out, key, { value: visit(value, [...path, key]), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return node;
  };

  const resolveString = (text: string, path: KeyPath): unknown => {
    if (!text.includes('${')) return text;
    const key = formatKeyPath(path);
    let failed = false;
    let references = 0;
    const result = text.replace(REFERENCE, (match, escaped: string | undefined, inner: string, closed: string | undefined) => {
      if (escaped) return match.slice(1);
      references++;
      if (!closed) {
        problems.push(`${key}: "${text}" has an unclosed \${. Fix: close it as \${NAME}, or write $\${ for a literal \${`);
        failed = true;
        return match;
      }
      const parsed = INNER.exec(inner);
      if (!parsed) {
        problems.push(
          `${key}: "${match}" is not an environment reference. Fix: write \${NAME} or \${NAME:-fallback} ` +
            `(NAME of letters, digits and _), or $\${ for a literal \${`,
        );
        failed = true;
        return match;
      }
      const [, name, fallback] = parsed as unknown as [string, string, string | undefined];
      const value = env[name];
      if (value !== undefined && !(fallback !== undefined && value === '')) return value;
      if (fallback !== undefined) return fallback;
      problems.push(
        `${key}: environment variable ${name} is not set (the value is "${text}"). ` +
          `Fix: set ${name} in the environment, or give a fallback: "\${${name}:-value}"`,
      );
      failed = true;
      return match;
    });
    if (failed) {
      failedKeys.add(key);
      return text;
    }
    const whole = references === 1 && /^\$\{[^}]*\}$/.test(text);
    return whole && convert ? convert(path, result) : result;
  };

  const value = visit(tree, []);
  return { value, problems, failedKeys };
}
