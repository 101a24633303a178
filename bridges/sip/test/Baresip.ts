// A real SIP phone for the tests: baresip (Debian baresip-core) with its own config in a temp folder,
// registered at the test SBC over UDP, driven over its ctrl_tcp module (netstring JSON: dial, accept,
// hangup, sndcode, hold, resume, transfer, message) and sending a sine tone as its microphone (ausine).
// Its sndfile module records what it hears, so a test can check that the other side's tone arrived.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './FreePorts.js';
import { toneRatio, wavSamples } from './Tone.js';

export interface BaresipOptions {
  /** The account's user part: `+14155550100`, `alice`. */
  user: string;
  domain: string;
  /** Where it registers and sends everything: `127.0.0.1:5060`. */
  proxy: string;
  /** The frequency of its tone (ausine). */
  toneHz: number;
  /** Contacts (for /message): SIP URIs. */
  contacts?: string[];
  /** Register (default) or not. */
  register?: boolean;
}

export interface BaresipEvent {
  type?: string;
  class?: string;
  param?: string;
  peeruri?: string;
  id?: string;
  [key: string]: unknown;
}

export class Baresip {
  readonly dir: string;
  private child: ChildProcess | null = null;
  private ctrl: Socket | null = null;
  private buffer = Buffer.alloc(0);
  private readonly events: BaresipEvent[] = [];
  private readonly waiters = new Set<() => void>();
  private output = '';
  private token = 0;
  private responses = new Map<string, (r: { ok: boolean; data: string }) => void>();

  constructor(readonly options: BaresipOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'patchbay-baresip-'));
  }

  get aor(): string {
    return `sip:${this.options.user}@${this.options.domain}`;
  }

  /** Starts it and waits for its registration (when it registers). */
  async start(): Promise<void> {
    // baresip listens on the SIP port for UDP and TCP, and on the next one for TLS.
    const sipPort = await freePorts(2);
    const ctrlPort = await freePorts(1);
    const rtp = await freePorts(10);
    const o = this.options;
    writeFileSync(
      join(this.dir, 'config'),
      [
        'poll_method epoll',
        `sip_listen 127.0.0.1:${sipPort}`,
        'call_local_timeout 120',
        'call_max_calls 8',
        'audio_player aubridge,none',
        `audio_source ausine,${o.toneHz}`,
        'audio_alert aubridge,none',
        'ausrc_srate 48000',
        'ausrc_channels 2',
        'auplay_srate 48000',
        'auplay_channels 2',
        `rtp_ports ${rtp}-${rtp + 9}`,
        'module_path /usr/lib/baresip/modules',
        'module g711.so',
        'module ausine.so',
        'module aubridge.so',
        'module sndfile.so',
        'module ctrl_tcp.so',
        'module_app account.so',
        'module_app contact.so',
        'module_app menu.so',
        `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
        `snd_path ${this.dir}`,
        '',
      ].join('\n'),
    );
    const register = o.register === false ? ';regint=0' : ';regint=600';
    writeFileSync(join(this.dir, 'accounts'), `<${this.aor}>;auth_pass=none;outbound="sip:${o.proxy};transport=udp"${register};audio_codecs=PCMU\n`);
    writeFileSync(join(this.dir, 'contacts'), (o.contacts ?? []).map((c) => `<${c}>\n`).join(''));
    // -s: the SIP trace on its output (the MESSAGEs it receives show there; no UI module prints them).
    const child = spawn('baresip', ['-f', this.dir, '-s'], { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keep = (d: Buffer): void => {
      this.output = (this.output + d.toString()).slice(-200_000);
      this.wake();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('exit', () => this.wake());
    await this.until(() => this.output.includes('baresip is ready') || child.exitCode !== null, 10_000, 'baresip to start');
    if (child.exitCode !== null) throw new Error(`baresip exited: ${this.output.slice(-500)}`);
    await this.connectCtrl(ctrlPort);
    if (o.register !== false) await this.until(() => /200 OK.*binding/.test(this.output), 10_000, `baresip ${this.aor} to register`);
  }

  async stop(): Promise<void> {
    this.ctrl?.destroy();
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Runs a menu command (`dial`, `accept`, `hangup`, `sndcode`, `hold`, `resume`, `transfer`, `message`). */
  command(command: string, params = ''): Promise<{ ok: boolean; data: string }> {
    const token = String(++this.token);
    const json = JSON.stringify({ command, params, token });
    return new Promise((resolve) => {
      this.responses.set(token, resolve);
      this.ctrl?.write(`${Buffer.byteLength(json)}:${json},`);
    });
  }

  /** The first event (since the start, or since `from`) that matches, waiting up to `timeoutMs`. */
  async event(predicate: (e: BaresipEvent) => boolean, timeoutMs = 15_000, from = 0): Promise<BaresipEvent> {
    let found: BaresipEvent | undefined;
    await this.until(() => (found = this.events.slice(from).find(predicate)) !== undefined, timeoutMs, 'a baresip event');
    return found!;
  }

  /** How many events so far: pass it as `from` to wait only for later ones. */
  get mark(): number {
    return this.events.length;
  }

  /** Its console output, with the SIP trace (incoming MESSAGEs show there). */
  async waitOutput(pattern: RegExp, timeoutMs = 15_000): Promise<void> {
    await this.until(() => pattern.test(this.output), timeoutMs, `baresip output ${pattern}`);
  }

  /** RTP packets its current call received (from its RTCP session stats). */
  async rtpReceived(): Promise<number> {
    const debug = (await this.command('audio_debug')).data;
    return Number(/rcvd=(\d+)/.exec(debug)?.[1] ?? 0);
  }

  /** How much of `hz` the audio it heard in its most recent call holds (0..1). */
  heardTone(hz: number): number {
    const files = readdirSync(this.dir).filter((f) => f.endsWith('-dec.wav')).sort();
    const last = files[files.length - 1];
    if (!last) return 0;
    const samples = wavSamples(readFileSync(join(this.dir, last)));
    // The last second: after the media path settled.
    return toneRatio(samples.subarray(Math.max(0, samples.length - 8000)), hz);
  }

  private async connectCtrl(port: number): Promise<void> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    this.ctrl = socket;
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      for (;;) {
        const colon = this.buffer.indexOf(0x3a);
        if (colon < 0) break;
        const length = Number(this.buffer.subarray(0, colon).toString());
        if (this.buffer.length < colon + 1 + length + 1) break;
        const message = JSON.parse(this.buffer.subarray(colon + 1, colon + 1 + length).toString()) as BaresipEvent & { response?: boolean; ok?: boolean; data?: string; token?: string };
        this.buffer = this.buffer.subarray(colon + 2 + length);
        if (message.response && message.token) {
          this.responses.get(message.token)?.({ ok: message.ok === true, data: message.data ?? '' });
          this.responses.delete(message.token);
        } else {
          this.events.push(message);
        }
        this.wake();
      }
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what} (${this.aor}); last output: ${this.output.slice(-300)}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }
}
