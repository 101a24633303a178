// One HTTP request exactly as given (any method with any body, a path that is not normalised), for
// hostile-input tests that fetch() would refuse or tidy up.
import { request } from 'node:http';

export interface RawAnswer {
  status: number;
  contentType: string;
  text: string;
}

export function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  options: { body?: Uint8Array | undefined; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RawAnswer> {
  const base = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = options.body.length;
    const req = request({ host: base.hostname, port: base.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.setTimeout(options.timeoutMs ?? 15_000, () => req.destroy(new Error(`${method} ${path} got no answer`)));
    req.on('error', reject);
    req.end(options.body);
  });
}
