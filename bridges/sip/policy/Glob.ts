// Globs in the SIP bridge's rules: `*` matches any run of characters, everything else itself
// (`@*:example.org`, `+1415*`, `anonymous*`). Compiled once; matching is linear.
export type Glob = (value: string) => boolean;

export function glob(pattern: string): Glob {
  const parts = pattern.split('*');
  if (parts.length === 1) return (value) => value === pattern;
  const head = parts[0]!;
  const tail = parts[parts.length - 1]!;
  const middle = parts.slice(1, -1);
  return (value) => {
    if (value.length < head.length + tail.length || !value.startsWith(head) || !value.endsWith(tail)) return false;
    let at = head.length;
    const end = value.length - tail.length;
    for (const part of middle) {
      const found = value.indexOf(part, at);
      if (found < 0 || found + part.length > end) return false;
      at = found + part.length;
    }
    return true;
  };
}

export function anyGlob(patterns: readonly string[]): Glob {
  const globs = patterns.map(glob);
  return (value) => globs.some((g) => g(value));
}
