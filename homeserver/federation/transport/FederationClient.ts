// Outbound federation requests: find the peer (ServerResolver), sign the request (X-Matrix), send it
// over HTTPS with the system's CAs (plain HTTP only where the config's peer map says so), and read a
// size-limited, strictly parsed JSON answer. A non-2xx answer is a FederationRequestError with the
// peer's errcode.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { parseStrictJson } from '../../http/StrictJson.js';
import { authorizationHeader } from '../auth/RequestAuth.js';
import type { ServerResolver } from '../discovery/ServerResolver.js';
import { canonicalJson } from '../json/CanonicalJson.js';
import type { ServerSigningKey } from '../signing/SignedJson.js';

export interface FederationClientOptions {
  serverName: string;
  signing: ServerSigningKey;
  resolver: ServerResolver;
  /** The whole request, connection to last byte. */
  timeoutMs?: number;
  maxResponseBytes?: number;
}

export class FederationRequestError extends Error {
  constructor(
    readonly destination: string,
    message: string,
    /** The peer's HTTP status; null when no answer came. */
    readonly status: number | null = null,
    readonly errcode: string | null = null,
  ) {
    super(`${destination}: ${message}`);
    this.name = 'FederationRequestError';
  }
}

export class FederationClient {
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;

  constructor(private readonly options: FederationClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxResponseBytes = options.maxResponseBytes ?? 10 * 1024 * 1024;
  }

  /**
   * Sends a signed request; `path` starts with /_matrix and carries its query string. An aborted `signal`
   * ends the request (the sender's shutdown).
   */
  async request(destination: string, method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
    const address = await this.options.resolver.resolve(destination);
    const payload = body === undefined ? undefined : canonicalJson(body);
    const headers: Record<string, string> = {
      Host: address.hostHeader,
      Authorization: authorizationHeader({ method, uri: path, content: body }, this.options.serverName, destination, this.options.signing),
      Accept: 'application/json',
    };
    if (payload !== undefined) headers['Content-Type'] = 'application/json';
    const common = { host: address.host, port: address.port, method, path, headers, timeout: this.timeoutMs, ...(signal && { signal }) };
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req =
        address.tlsName === null
          ? httpRequest(common, resolve)
          : httpsRequest({ ...common, ...(isIP(address.tlsName) === 0 && { servername: address.tlsName }) }, resolve);
      const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      req.on('close', () => clearTimeout(deadline));
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err) => reject(new FederationRequestError(destination, `${method} ${path} failed: ${err.message}`)));
      req.end(payload);
    });
    const bytes = await this.readBody(destination, res);
    let parsed: unknown;
    try {
      parsed = bytes.length === 0 ? {} : parseStrictJson(bytes);
    } catch {
      throw new FederationRequestError(destination, `${method} ${path} answered ${res.statusCode} with a body that is not JSON`, res.statusCode ?? null);
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) {
      const err = parsed as { errcode?: unknown; error?: unknown };
      const errcode = typeof err.errcode === 'string' ? err.errcode : null;
      throw new FederationRequestError(destination, `${method} ${path} answered ${status} ${errcode ?? ''} ${typeof err.error === 'string' ? err.error : ''}`.trim(), status, errcode);
    }
    return parsed;
  }

  private readBody(destination: string, res: IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.maxResponseBytes) {
          res.destroy();
          reject(new FederationRequestError(destination, `the answer is larger than ${this.maxResponseBytes} bytes`, res.statusCode ?? null));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', (err) => reject(new FederationRequestError(destination, `the answer broke off: ${err.message}`)));
    });
  }
}
