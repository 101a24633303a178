// What one client connection may hold (homeserver.connections):
// - the request line and headers within headers_timeout_ms (Node enforces it, also for a new connection
//   that sends nothing);
// - a body within body_timeout_ms plus one second per body_min_bytes_per_second bytes received, so a
//   slow upload goes through and a client dribbling a byte every few seconds is cut (408);
// - keep-alive connections idle for idle_timeout_ms are closed;
// - at most max_per_ip open connections per client address (trusted proxies are not counted).
// Long-polling /sync is untouched: its request is complete when it arrives, the wait is on the response.
import type { IncomingMessage, RequestListener, Server, ServerOptions, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { ConnectionsConfig } from '../../config/index.js';
import { addressKey } from '../limits/ClientAddress.js';

interface WatchedBody {
  req: IncomingMessage;
  res: ServerResponse;
  startedAt: number;
  bytesAtStart: number;
  /** Set when the response is sent before the body ends: later bytes no longer buy time. */
  allowanceAtFinish: number | null;
}

export class ClientConnections {
  private readonly bodies = new Set<WatchedBody>();
  private readonly openPerAddress = new Map<string, number>();
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly config: ConnectionsConfig,
    private readonly isTrustedProxy: (address: string) => boolean,
    private readonly cut: Counter<'reason'>,
    private readonly logger: Logger,
  ) {}

  /** For createServer: how often Node checks headers_timeout (it cannot be changed later). */
  serverOptions(): ServerOptions {
    return { connectionsCheckingInterval: this.checkEveryMs() };
  }

  /** Applies the timeouts and the per-address count to the server; the body watch needs handler() too. */
  attach(server: Server): void {
    server.headersTimeout = this.config.headers_timeout_ms;
    // Node's requestTimeout would bound the whole body whatever its speed; the rate rule replaces it.
    server.requestTimeout = 0;
    server.keepAliveTimeout = this.config.idle_timeout_ms;
    server.on('connection', (socket: Socket) => this.admit(socket));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.onClientError(err, socket));
    this.sweeper = setInterval(() => this.sweep(), this.checkEveryMs());
    this.sweeper.unref();
  }

  /** Wraps the app: every request with a body is watched until the body has arrived. */
  handler(app: RequestListener): RequestListener {
    return (req, res) => {
      if (hasBody(req)) this.watch(req, res);
      app(req, res);
    };
  }

  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    this.bodies.clear();
  }

  private checkEveryMs(): number {
    return Math.max(50, Math.min(1_000, Math.floor(Math.min(this.config.headers_timeout_ms, this.config.body_timeout_ms) / 4)));
  }

  private admit(socket: Socket): void {
    const address = socket.remoteAddress ?? '';
    if (this.isTrustedProxy(address)) return;
    const key = addressKey(address);
    const open = this.openPerAddress.get(key) ?? 0;
    if (open >= this.config.max_per_ip) {
      // Refused before a byte is read: an answer would cost what the limit is there to save.
      this.cut.inc({ reason: 'too_many_per_ip' });
      this.logger.debug({ client: key, open }, 'connection refused: too many open connections from this address');
      socket.destroy();
      return;
    }
    this.openPerAddress.set(key, open + 1);
    socket.once('close', () => {
      const left = (this.openPerAddress.get(key) ?? 1) - 1;
      if (left <= 0) this.openPerAddress.delete(key);
      else this.openPerAddress.set(key, left);
    });
  }

  /** Node's own request errors (headers too slow, malformed request): a JSON answer where one can still be sent. */
  private onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    const answer = clientErrorAnswer(err.code);
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      this.cut.inc({ reason: 'headers_timeout' });
      this.logger.debug({ client: socket.remoteAddress }, 'request headers too slow: connection closed');
    }
    const response = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (!answer || !socket.writable || response?.headersSent) {
      socket.destroy();
      return;
    }
    const body = JSON.stringify({ errcode: answer.errcode, error: answer.error });
    socket.end(
      `HTTP/1.1 ${answer.status} ${answer.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n${body}`,
    );
    setTimeout(() => socket.destroy(), 1_000).unref();
  }

  private watch(req: IncomingMessage, res: ServerResponse): void {
    const watched: WatchedBody = { req, res, startedAt: Date.now(), bytesAtStart: req.socket.bytesRead, allowanceAtFinish: null };
    this.bodies.add(watched);
    const forget = (): void => {
      this.bodies.delete(watched);
    };
    req.once('end', forget);
    req.once('close', forget);
    res.once('finish', () => {
      if (!req.complete) watched.allowanceAtFinish = this.allowanceMs(watched);
    });
  }

  private allowanceMs(w: WatchedBody): number {
    const received = Math.max(0, w.req.socket.bytesRead - w.bytesAtStart);
    return this.config.body_timeout_ms + (received / this.config.body_min_bytes_per_second) * 1000;
  }

  private sweep(): void {
    const now = Date.now();
    for (const w of this.bodies) {
      if (w.req.complete || w.req.socket.destroyed) {
        this.bodies.delete(w);
        continue;
      }
      const allowed = w.allowanceAtFinish ?? this.allowanceMs(w);
      if (now - w.startedAt > allowed) this.cutSlowBody(w, now);
    }
  }

  private cutSlowBody(w: WatchedBody, now: number): void {
    this.bodies.delete(w);
    this.cut.inc({ reason: 'body_too_slow' });
    const socket = w.req.socket;
    this.logger.info(
      {
        client: socket.remoteAddress,
        method: w.req.method,
        path: (w.req.url ?? '').split('?')[0],
        received_bytes: Math.max(0, socket.bytesRead - w.bytesAtStart),
        ms: now - w.startedAt,
      },
      'request body too slow: connection closed',
    );
    if (w.res.headersSent) {
      socket.destroy();
      return;
    }
    // No more of the body reaches its reader, so the request can never complete and be carried out.
    w.req.pause();
    const body = JSON.stringify({
      errcode: 'M_UNKNOWN',
      error: `Request body too slow: it must arrive within ${this.config.body_timeout_ms} ms plus 1 s per ${this.config.body_min_bytes_per_second} bytes`,
    });
    w.res.writeHead(408, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
    w.res.end(body, () => socket.end());
    setTimeout(() => socket.destroy(), 1_000).unref();
  }
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function clientErrorAnswer(code: string | undefined): { status: number; reason: string; errcode: string; error: string } | null {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, reason: 'Request Timeout', errcode: 'M_UNKNOWN', error: 'Request headers not received in time' };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, reason: 'Request Header Fields Too Large', errcode: 'M_TOO_LARGE', error: 'The request line or headers are too large' };
    case 'ECONNRESET':
    case 'EPIPE':
      return null;
    default:
      return { status: 400, reason: 'Bad Request', errcode: 'M_UNKNOWN', error: 'Malformed HTTP request' };
  }
}
