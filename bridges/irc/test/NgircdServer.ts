// A real ngircd for tests and benchmarks: its own config in a temp dir, a free loopback port, started
// in the foreground so it can be killed and restarted (on the same port) mid-test.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NgircdOptions {
  /** Extra `[Limits]`/`[Options]` lines, e.g. `MaxNickLength = 9` to test truncation. */
  extraLimits?: string[];
  /** Also listen with TLS, on `tlsPort`, with a certificate from a private CA (`caPem`). */
  tls?: boolean;
  /** Server password (PASS) every client must give. */
  password?: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export class NgircdServer {
  readonly host = '127.0.0.1';
  port = 0;
  tlsPort = 0;
  /** PEM of the private CA that signed the server certificate (with `tls`). */
  caPem = '';
  private dir = '';
  private child: ChildProcess | null = null;
  private output = '';

  constructor(private readonly options: NgircdOptions = {}) {}

  async start(): Promise<void> {
    if (this.dir === '') {
      this.dir = mkdtempSync(join(tmpdir(), 'patchbay-ngircd-'));
      this.port = await freePort();
      writeFileSync(join(this.dir, 'motd'), 'test server\n');
      const ssl: string[] = [];
      if (this.options.tls === true) {
        this.tlsPort = await freePort();
        this.makeCertificates();
        ssl.push('[SSL]', `  CertFile = ${join(this.dir, 'server.crt')}`, `  KeyFile = ${join(this.dir, 'server.key')}`, `  Ports = ${this.tlsPort}`);
      }
      // Bridge-friendly limits (see DESIGN.md): ngircd's defaults cap connections per IP, nick length
      // and add a flood penalty that a test full of puppets would trip over.
      const conf = [
        '[Global]',
        '  Name = irc.patchbay.test',
        '  Info = Patchbay test server',
        `  Listen = ${this.host}`,
        `  Ports = ${this.port}`,
        `  MotdFile = ${join(this.dir, 'motd')}`,
        `  PidFile = ${join(this.dir, 'ngircd.pid')}`,
        ...(this.options.password !== undefined ? [`  Password = ${this.options.password}`] : []),
        '[Limits]',
        '  MaxConnections = 0',
        '  MaxConnectionsIP = 0',
        '  MaxJoins = 0',
        '  MaxNickLength = 30',
        '  MaxPenaltyTime = 0',
        '  PingTimeout = 120',
        '  PongTimeout = 20',
        ...(this.options.extraLimits ?? []).map((l) => `  ${l}`),
        '[Options]',
        '  PAM = no',
        '  DNS = no',
        '  Ident = no',
        ...ssl,
        '',
      ].join('\n');
      writeFileSync(join(this.dir, 'ngircd.conf'), conf);
    }
    this.output = '';
    const child = spawn('ngircd', ['--nodaemon', '--config', join(this.dir, 'ngircd.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    let exited = false;
    child.once('exit', () => (exited = true));
    for (let i = 0; i < 200; i++) {
      if (exited) throw new Error(`ngircd exited at start:\n${this.output}`);
      if (await canConnect(this.port)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`ngircd did not listen on ${this.port}:\n${this.output}`);
  }

  /** A private CA and a server certificate for 127.0.0.1 signed by it (openssl, a few ms). */
  private makeCertificates(): void {
    const f = (name: string) => join(this.dir, name);
    const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
    run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Patchbay test CA', '-keyout', f('ca.key'), '-out', f('ca.crt')]);
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', f('server.key'), '-out', f('server.csr')]);
    writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
    run(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('ext.cnf'), '-out', f('server.crt')]);
    this.caPem = readFileSync(f('ca.crt'), 'utf8');
  }

  /** SIGKILL: every connection drops at once, as in a crash. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  async stop(): Promise<void> {
    await this.signal('SIGTERM');
    if (this.dir !== '') rmSync(this.dir, { recursive: true, force: true });
    this.dir = '';
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(sig);
    await exited;
  }
}
