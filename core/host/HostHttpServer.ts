import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import express, { type Express, type RequestHandler, type Router } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { unrecognizedRoute } from '../appservice/AppserviceApi.js';
import type { HealthReport } from './PipelineHealth.js';

export interface HostHttpServerOptions {
  bind: string;
  /** 0 picks a free port. */
  port: number;
  /** The AS API router, or null on a process that does not take transactions. */
  appservice: Router | null;
  /** The bridges' own HTTP routes (under /_patchbay/bridges/ and their claimed prefixes), or null. */
  pluginRoutes: RequestHandler | null;
  health: () => Promise<HealthReport>;
  /** The operators' status page (GET / and /_patchbay/status), or null. */
  statusPage: Router | null;
  /** Registry served on GET /metrics; null turns /metrics off (host.metrics: false). */
  metrics: Registry | null;
  logger: Logger;
  /** How long a client may take for its headers, and for its whole request (tests shorten them). */
  timeouts?: { headersMs: number; requestMs: number };
}

/**
 * The homeserver is the only client, but the port is open: a request must arrive within a minute (a
 * 10 MiB transaction takes milliseconds on a LAN), its headers within 20 s, so a stalled or dribbling
 * connection cannot be held for ever. Nothing here long-polls.
 */
const DEFAULT_TIMEOUTS = { headersMs: 20_000, requestMs: 60_000 };

/**
 * Requests Node's HTTP parser refuses before express sees them (headers or a request line over 16 KiB,
 * bytes that are not HTTP) get a spec error body like every other refusal, not a bare status line.
 */
function answerParserError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, errcode, error] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? ['431 Request Header Fields Too Large', 'M_TOO_LARGE', 'The request line or headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ['408 Request Timeout', 'M_UNKNOWN', 'The request took too long to arrive']
        : ['400 Bad Request', 'M_UNKNOWN', 'Malformed HTTP request'];
  const body = JSON.stringify({ errcode, error });
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/**
 * The host's HTTP server: the AS API for the homeserver, the bridges' own routes, plus unauthenticated
 * GET /health (JSON) and GET /metrics (Prometheus text) for operators, and the status page. Anything else is 404 M_UNRECOGNIZED.
 */
export class HostHttpServer {
  readonly app: Express;
  private server: Server | null = null;

  constructor(private readonly options: HostHttpServerOptions) {
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.get('/health', async (_req, res) => {
      const report = await options.health();
      res.status(report.status === 'unavailable' ? 503 : 200).json(report);
    });
    const registry = options.metrics;
    if (registry) {
      app.get('/metrics', async (_req, res) => {
        res.setHeader('Content-Type', registry.contentType);
        res.send(await registry.metrics());
      });
    }
    if (options.statusPage) app.use(options.statusPage);
    if (options.appservice) app.use(options.appservice);
    if (options.pluginRoutes) app.use(options.pluginRoutes);
    app.use(unrecognizedRoute);
    this.app = app;
  }

  /** Listening address, e.g. `http://127.0.0.1:9000`. */
  get url(): string {
    const address = this.address();
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  get port(): number {
    return this.address().port;
  }

  async listen(): Promise<void> {
    const timeouts = this.options.timeouts ?? DEFAULT_TIMEOUTS;
    const server = createServer({ connectionsCheckingInterval: Math.min(1_000, timeouts.headersMs / 4) }, this.app);
    server.headersTimeout = timeouts.headersMs;
    server.requestTimeout = timeouts.requestMs;
    server.on('clientError', answerParserError);
    server.listen(this.options.port, this.options.bind);
    await Promise.race([
      once(server, 'listening'),
      once(server, 'error').then(([err]) => {
        throw err;
      }),
    ]);
    this.server = server;
    this.options.logger.info({ url: this.url }, 'appservice host listening');
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 2_000).unref();
    await closed;
  }

  private address(): AddressInfo {
    const address = this.server?.address();
    if (!address || typeof address === 'string') throw new Error('the host HTTP server is not listening');
    return address;
  }
}
