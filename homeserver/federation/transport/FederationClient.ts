// Outbound federation requests: check the destination (OutboundGuard: the config's server list, no
// private addresses unless allowed), find the peer (ServerResolver), sign the request (X-Matrix), send
// it over HTTPS with the system's CAs (plain HTTP only where the config's peer map says so), and read a
// size-limited answer: strictly parsed JSON (request), or bytes with their type (download). A non-2xx
// answer, a refusal or a network failure is a FederationRequestError.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { parseStrictJson } from '../../http/StrictJson.js';
import { authorizationHeader } from '../auth/RequestAuth.js';
import type { ServerAddress, ServerResolver } from '../discovery/ServerResolver.js';
import { canonicalJson } from '../json/CanonicalJson.js';
import type { ServerSigningKey } from '../signing/SignedJson.js';
import { OutboundRefusedError, type OutboundGuard } from './OutboundGuard.js';

export interface FederationClientOptions {
  serverName: string;
  signing: ServerSigningKey;
  resolver: ServerResolver;
  guard: OutboundGuard;
  /** The whole request, connection to last byte. */
  timeoutMs?: number;
  maxResponseBytes?: number;
}

/** Per request: a shorter deadline, a different size limit, a signal that ends it (the sender's shutdown). */
export interface RequestLimits {
  timeoutMs?: number;
  maxResponseBytes?: number;
  signal?: AbortSignal;
}

/** A downloaded body and the headers that describe it. */
export interface DownloadedBody {
  contentType: string | null;
  contentDisposition: string | null;
  data: Buffer;
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

  /** Sends a signed request; `path` starts with /_matrix and carries its query string. */
  async request(destination: string, method: string, path: string, body?: unknown, limits: RequestLimits = {}): Promise<unknown> {
    const { res, bytes } = await this.exchange(destination, method, path, body, 'application/json', limits);
    let parsed: unknown;
    try {
      parsed = bytes.length === 0 ? {} : parseStrictJson(bytes);
    } catch {
      throw new FederationRequestError(destination, `${method} ${path} answered ${res.statusCode} with a body that is not JSON`, res.statusCode ?? null);
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) throw answerError(destination, `${method} ${path}`, status, parsed);
    return parsed;
  }

  /** A signed GET whose 2xx answer is bytes (media); a non-2xx answer is an error with the peer's errcode. */
  async download(destination: string, path: string, limits: RequestLimits = {}): Promise<DownloadedBody> {
    const { res, bytes } = await this.exchange(destination, 'GET', path, undefined, '*/*', limits);
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) {
      let parsed: unknown = {};
      try {
        parsed = parseStrictJson(bytes);
      } catch {
        // not JSON: the status alone says what went wrong
      }
      throw answerError(destination, `GET ${path}`, status, parsed);
    }
    return { contentType: res.headers['content-type'] ?? null, contentDisposition: res.headers['content-disposition'] ?? null, data: bytes };
  }

  private async exchange(
    destination: string,
    method: string,
    path: string,
    body: unknown,
    accept: string,
    limits: RequestLimits,
  ): Promise<{ res: IncomingMessage; bytes: Buffer }> {
    const timeoutMs = limits.timeoutMs ?? this.timeoutMs;
    const maxBytes = limits.maxResponseBytes ?? this.maxResponseBytes;
    let address: ServerAddress;
    let connect: ReturnType<OutboundGuard['connectOptions']>;
    try {
      // A denied server is not even looked up: resolving it would already send a .well-known request.
      this.options.guard.checkDestination(destination);
      address = await this.options.resolver.resolve(destination);
      connect = this.options.guard.connectOptions(destination, address.host);
    } catch (err) {
      const how = err instanceof OutboundRefusedError ? 'refused' : 'failed';
      throw new FederationRequestError(destination, `${method} ${path} ${how}: ${(err as Error).message}`);
    }
    const payload = body === undefined ? undefined : canonicalJson(body);
    const headers: Record<string, string> = {
      Host: address.hostHeader,
      Authorization: authorizationHeader({ method, uri: path, content: body }, this.options.serverName, destination, this.options.signing),
      Accept: accept,
    };
    if (payload !== undefined) headers['Content-Type'] = 'application/json';
    const common = { host: address.host, port: address.port, method, path, headers, timeout: timeoutMs, ...connect, ...(limits.signal && { signal: limits.signal }) };
    const failed = (err: Error): FederationRequestError =>
      err instanceof FederationRequestError ? err : new FederationRequestError(destination, `${method} ${path} failed: ${err.message}`);
    return new Promise((resolve, reject) => {
      const req =
        address.tlsName === null
          ? httpRequest(common)
          : httpsRequest({ ...common, ...(isIP(address.tlsName) === 0 && { servername: address.tlsName }) });
      const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      req.on('close', () => clearTimeout(deadline));
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(failed(err)));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy(new FederationRequestError(destination, `the answer is larger than ${maxBytes} bytes`, res.statusCode ?? null, 'M_TOO_LARGE'));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => resolve({ res, bytes: Buffer.concat(chunks) }));
        res.on('error', (err) => reject(failed(err)));
      });
      req.end(payload);
    });
  }
}

function answerError(destination: string, what: string, status: number, parsed: unknown): FederationRequestError {
  const err = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { errcode?: unknown; error?: unknown };
  const errcode = typeof err.errcode === 'string' ? err.errcode : null;
  return new FederationRequestError(destination, `${what} answered ${status} ${errcode ?? ''} ${typeof err.error === 'string' ? err.error : ''}`.trim(), status, errcode);
}
