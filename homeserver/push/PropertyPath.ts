// Dot-separated property paths (spec appendix): `content.m\.relates_to.rel_type` names
// content["m.relates_to"]["rel_type"]; `\.` is a literal dot and `\\` a literal backslash, any other
// backslash stays as it is.

/** The property names a path stands for. */
export function parsePropertyPath(path: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i]!;
    const next = path[i + 1];
    if (ch === '\\' && (next === '.' || next === '\\')) {
      current += next;
      i++;
    } else if (ch === '.') {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

/** The value at `parts` in `root`, or undefined when any step is missing or not an object. */
export function valueAt(root: Record<string, unknown>, parts: readonly string[]): unknown {
  let v: unknown = root;
  for (const p of parts) {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.prototype.hasOwnProperty.call(v, p)) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}
