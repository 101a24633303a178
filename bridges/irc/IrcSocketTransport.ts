// The socket under irc-framework (its `transport` option). Patchbay brings its own because the
// library's TCP/TLS transport cannot take a CA bundle, a client certificate for CertFP or a per-user
// local address, and buffers an unbounded line from the server. This one caps a line at 16 KiB (IRCv3
// tags + 512), decodes UTF-8 with a Latin-1 fallback, and never lets a parser exception escape.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';

export interface TransportTlsOptions {
  /** PEM CA certificates to trust instead of the system store (self-signed or private CAs). */
  ca?: string;
  rejectUnauthorized?: boolean;
  /** Client certificate and key (PEM) for CertFP / SASL EXTERNAL. */
  cert?: string;
  key?: string;
  servername?: string;
}

export interface TransportOptions {
  host: string;
  port: number;
  tls?: TransportTlsOptions | false;
  /** Local address to connect from (one IPv6 address per user keeps bans per user). */
  localAddress?: string;
}

const MAX_LINE_BYTES = 16 * 1024;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

export class IrcSocketTransport extends EventEmitter {
  private socket: net.Socket | null = null;
  private open = false;
  private buffer: Buffer = Buffer.alloc(0);
  /** Skipping the rest of an over-long line until its newline. */
  private discarding = false;
  private readonly options: TransportOptions;

  constructor(options: { patchbay?: TransportOptions }) {
    super();
    if (options.patchbay === undefined) throw new Error('IrcSocketTransport needs options.patchbay');
    this.options = options.patchbay;
  }

  isConnected(): boolean {
    return this.open;
  }

  setEncoding(encoding: string): boolean {
    return encoding === 'utf8';
  }

  connect(): void {
    this.disposeSocket();
    this.buffer = Buffer.alloc(0);
    this.discarding = false;
    const { host, port, localAddress } = this.options;
    const tlsOptions = this.options.tls;
    const family = localAddress === undefined ? undefined : net.isIPv6(localAddress) ? 6 : 4;
    const tcp = net.connect({ host, port, localAddress, family });
    const socket =
      tlsOptions !== undefined && tlsOptions !== false
        ? tls.connect({
            socket: tcp,
            // Certificate identity is checked against this name (an IP literal is checked against IP SANs).
            host,
            ca: tlsOptions.ca,
            cert: tlsOptions.cert,
            key: tlsOptions.key,
            rejectUnauthorized: tlsOptions.rejectUnauthorized ?? true,
            servername: tlsOptions.servername ?? (net.isIP(host) === 0 ? host : undefined),
          })
        : tcp;
    if (socket !== tcp) tcp.on('error', () => undefined); // reported by the TLS socket
    this.socket = socket;
    socket.setNoDelay(true);
    socket.once(socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => {
      this.open = true;
      this.emit('extra', 'raw socket connected', socket);
      this.emit('open');
    });
    socket.on('data', (data: Buffer) => this.onData(data));
    let lastError: Error | false = false;
    socket.on('error', (err) => {
      lastError = err;
      this.emit('debug', `socket error: ${err.message}`);
    });
    socket.once('close', () => {
      this.open = false;
      if (this.socket === socket) this.socket = null;
      this.emit('close', lastError);
    });
  }

  writeLine(line: string, cb?: () => void): void {
    if (this.socket === null || !this.open) {
      if (cb !== undefined) process.nextTick(cb);
      return;
    }
    this.socket.write(`${line}\r\n`, cb !== undefined ? () => cb() : undefined);
  }

  close(force?: boolean): void {
    if (this.socket === null) return;
    if (force === true || !this.open) this.socket.destroy();
    else this.socket.end();
  }

  disposeSocket(): void {
    if (this.socket !== null) {
      this.socket.removeAllListeners();
      this.socket.on('error', () => undefined);
      this.socket.destroy();
      this.socket = null;
    }
    this.open = false;
  }

  private onData(data: Buffer): void {
    let chunk = data;
    for (;;) {
      const nl = chunk.indexOf(0x0a);
      if (nl === -1) {
        if (this.discarding) return;
        this.buffer = Buffer.concat([this.buffer, chunk]);
        if (this.buffer.length > MAX_LINE_BYTES) {
          this.emit('debug', 'dropping an over-long line from the server');
          this.buffer = Buffer.alloc(0);
          this.discarding = true;
        }
        return;
      }
      const head = chunk.subarray(0, nl);
      chunk = chunk.subarray(nl + 1);
      if (this.discarding) {
        this.discarding = false;
        continue;
      }
      const lineBytes = this.buffer.length > 0 ? Buffer.concat([this.buffer, head]) : head;
      this.buffer = Buffer.alloc(0);
      if (lineBytes.length > MAX_LINE_BYTES) continue;
      let line: string;
      try {
        line = utf8.decode(lineBytes);
      } catch {
        line = latin1.decode(lineBytes);
      }
      line = line.replace(/\r$/, '');
      if (line === '') continue;
      try {
        this.emit('line', line);
      } catch (err) {
        // A malformed line made the parser throw: drop that line, keep the connection.
        this.emit('debug', `line handler failed: ${(err as Error).message}`);
      }
    }
  }
}
