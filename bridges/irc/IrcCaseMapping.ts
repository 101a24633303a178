// Nick and channel comparison per the server's ISUPPORT CASEMAPPING: `rfc1459` (the default when the
// server says nothing) also folds []\^ to {}|~, `strict-rfc1459` folds []\ only, `ascii` folds A-Z only.
export type CaseMapping = 'ascii' | 'rfc1459' | 'strict-rfc1459';

export function parseCaseMapping(value: unknown): CaseMapping {
  return value === 'ascii' || value === 'strict-rfc1459' ? value : 'rfc1459';
}

export function foldCase(text: string, mapping: CaseMapping): string {
  let out = text.replace(/[A-Z]+/g, (s) => s.toLowerCase());
  if (mapping === 'ascii') return out;
  out = out.replace(/[[\]\\]/g, (c) => ({ '[': '{', ']': '}', '\\': '|' })[c] as string);
  return mapping === 'rfc1459' ? out.replace(/\^/g, '~') : out;
}
