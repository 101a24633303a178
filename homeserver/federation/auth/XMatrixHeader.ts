// The `Authorization: X-Matrix ...` header of federation requests (Server-Server API, "Request
// Authentication"): written the way older servers can read (one space, lower-case names, quoted values,
// no spaces around commas), read the way RFC 9110 allows (any case, optional quotes, escapes, spaces).

export interface XMatrixCredentials {
  origin: string;
  /** Absent from servers older than spec v1.3. */
  destination?: string;
  key: string;
  sig: string;
}

/** A header value that carries no usable X-Matrix credentials. */
export class XMatrixHeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XMatrixHeaderError';
  }
}

export function formatXMatrixHeader(c: XMatrixCredentials & { destination: string }): string {
  const quote = (v: string): string => `"${v.replace(/["\\]/g, (ch) => '\\' + ch)}"`;
  return `X-Matrix origin=${quote(c.origin)},destination=${quote(c.destination)},key=${quote(c.key)},sig=${quote(c.sig)}`;
}

/** The parameters of an X-Matrix header; throws XMatrixHeaderError. */
export function parseXMatrixHeader(header: string): XMatrixCredentials {
  const m = /^\s*x-matrix[ \t]+/i.exec(header);
  if (!m) throw new XMatrixHeaderError('The Authorization header does not use the X-Matrix scheme');
  const params = new Map<string, string>();
  let i = m[0].length;
  const n = header.length;
  const skip = (chars: string): void => {
    while (i < n && chars.includes(header[i]!)) i++;
  };
  while (i < n) {
    skip(' \t,');
    if (i >= n) break;
    const nameStart = i;
    while (i < n && header[i] !== '=' && header[i] !== ',') i++;
    const name = header.slice(nameStart, i).trim().toLowerCase();
    if (header[i] !== '=' || !name) throw new XMatrixHeaderError(`The X-Matrix parameter ${JSON.stringify(name)} has no value`);
    i++;
    skip(' \t');
    let value = '';
    if (header[i] === '"') {
      i++;
      while (i < n && header[i] !== '"') {
        if (header[i] === '\\' && i + 1 < n) i++;
        value += header[i++];
      }
      if (i >= n) throw new XMatrixHeaderError('An X-Matrix value has no closing quote');
      i++;
    } else {
      // A token; colons are allowed unquoted for older servers (`origin=example.org:8448`).
      const start = i;
      while (i < n && header[i] !== ',' && header[i] !== ' ' && header[i] !== '\t') i++;
      value = header.slice(start, i);
    }
    skip(' \t');
    if (i < n && header[i] !== ',') throw new XMatrixHeaderError('X-Matrix parameters must be separated by commas');
    if (!params.has(name)) params.set(name, value);
  }
  const origin = params.get('origin');
  const key = params.get('key');
  const sig = params.get('sig');
  if (!origin || !key || !sig) throw new XMatrixHeaderError('The X-Matrix header needs origin, key and sig');
  const destination = params.get('destination');
  return { origin, key, sig, ...(destination !== undefined && { destination }) };
}
