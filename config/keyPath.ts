/** A position in the configuration tree: map keys and list indexes. */
export type KeyPath = ReadonlyArray<string | number>;

/** `homeserver.turn.uris[0]`, as users write and search for it. */
export function formatKeyPath(path: KeyPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out === '' ? '(top level)' : out;
}

/** Ajv's JSON pointer (`/homeserver/port`) as a KeyPath. */
export function keyPathFromPointer(pointer: string, data: unknown): Array<string | number> {
  if (pointer === '') return [];
  const path: Array<string | number> = [];
  let node = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const index = Array.isArray(node) ? Number(key) : NaN;
    path.push(Number.isInteger(index) ? index : key);
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  }
  return path;
}
