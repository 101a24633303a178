// A deliberately plain IRC client for tests: a raw socket, the lines it received, and waits on them.
// It is the "other person on IRC" whose view proves what the bridge really sent.
import { connect, type Socket } from 'node:net';

export interface ParsedLine {
  raw: string;
  prefix: string;
  nick: string;
  command: string;
  params: string[];
}

export function parseLine(raw: string): ParsedLine {
  let rest = raw;
  if (rest.startsWith('@')) rest = rest.slice(rest.indexOf(' ') + 1);
  let prefix = '';
  if (rest.startsWith(':')) {
    const sp = rest.indexOf(' ');
    prefix = rest.slice(1, sp);
    rest = rest.slice(sp + 1);
  }
  const params: string[] = [];
  while (rest.length > 0) {
    if (rest.startsWith(':')) {
      params.push(rest.slice(1));
      break;
    }
    const sp = rest.indexOf(' ');
    if (sp === -1) {
      params.push(rest);
      break;
    }
    params.push(rest.slice(0, sp));
    rest = rest.slice(sp + 1);
  }
  const command = params.shift() ?? '';
  return { raw, prefix, nick: prefix.split('!')[0] ?? '', command, params };
}

export class IrcTestClient {
  readonly lines: ParsedLine[] = [];
  /** Called for every received line as it arrives (benchmarks time lines with it). */
  onLine: ((line: ParsedLine) => void) | null = null;
  /** Keep received lines (off for long benchmark runs). */
  keepLines = true;
  private socket: Socket | null = null;
  private buffer = '';
  private waiters: Array<() => void> = [];

  constructor(
    private readonly host: string,
    private readonly port: number,
    readonly nick: string,
  ) {}

  async connect(): Promise<void> {
    this.lines.length = 0;
    await new Promise<void>((resolve, reject) => {
      const s = connect({ host: this.host, port: this.port }, () => resolve());
      s.once('error', reject);
      s.setEncoding('utf8');
      s.on('data', (d: string) => this.onData(d));
      s.on('error', () => undefined);
      this.socket = s;
    });
    this.send(`NICK ${this.nick}`);
    this.send(`USER ${this.nick} 0 * :test client`);
    await this.waitFor((l) => l.command === '001', 10_000);
  }

  send(line: string): void {
    this.socket?.write(`${line}\r\n`);
  }

  async join(channel: string): Promise<void> {
    this.send(`JOIN ${channel}`);
    await this.waitFor((l) => l.command === '366' && l.params[1]?.toLowerCase() === channel.toLowerCase(), 10_000);
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  /** PRIVMSG/NOTICE texts received for a target, in order. */
  texts(target: string, command = 'PRIVMSG'): string[] {
    return this.lines.filter((l) => l.command === command && l.params[0]?.toLowerCase() === target.toLowerCase()).map((l) => l.params[1] ?? '');
  }

  /** Resolves with the first received line matching `predicate` (already received ones count). */
  async waitFor(predicate: (l: ParsedLine) => boolean, timeoutMs = 15_000): Promise<ParsedLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(predicate);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.nick}: timed out waiting; last lines:\n${this.lines.slice(-15).map((l) => l.raw).join('\n')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits until `count` lines match. */
  async waitForCount(predicate: (l: ParsedLine) => boolean, count: number, timeoutMs = 30_000): Promise<ParsedLine[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.filter(predicate);
      if (found.length >= count) return found;
      if (Date.now() > deadline) throw new Error(`${this.nick}: ${found.length} of ${count} lines arrived`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private onData(data: string): void {
    this.buffer += data;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) !== -1) {
      const raw = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      if (raw === '') continue;
      const line = parseLine(raw);
      if (line.command === 'PING') this.send(`PONG :${line.params[0] ?? ''}`);
      if (this.keepLines || line.command === '001' || line.command === '366') this.lines.push(line);
      this.onLine?.(line);
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
