// `bridges.sip.sbc: managed`: Kamailio and rtpengine as supervised children of the bridge, with the
// Kamailio config that ships beside this file rendered into <data_dir>/bridges/sip/sbc. rtpengine starts
// first (Kamailio checks it at start), each is restarted when it dies, and ctx.status shows the SBC as
// one connection (`sbc`).
import { createSocket } from 'node:dgram';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, isIP } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BridgeStatus, Logger } from 'patchbay-matrix/plugin';
import { ProcessStartError, SupervisedProcess } from './SupervisedProcess.js';

export interface ManagedSbcOptions {
  dir: string;
  sipAddress: string;
  sipPort: number;
  domain: string;
  mediaAddress: string;
  mediaAdvertise: string | null;
  rtpPortMin: number;
  rtpPortMax: number;
  /** 0: a free port. */
  wsPort: number;
  kamailio: string;
  rtpengine: string;
  /** The line unknown local numbers go to (`sip:patchbay@sbc.example`), or null. */
  gatewayAor: string | null;
  /** User parts of the bridge's lines in the local domain: phones may not register as them. */
  bridgeUsers: string[];
  /** Extra `-A NAME` defines for Kamailio (TIMING for the benchmark). */
  defines?: string[];
  logger: Logger;
  status: BridgeStatus;
  backoff?: { initialMs: number; maxMs: number };
}

export const SBC_PACKAGES = 'kamailio kamailio-websocket-modules rtpengine-daemon';
const INSTALL_HINT = `install them with: apt-get install -y --no-install-recommends ${SBC_PACKAGES} (or set bridges.sip.sbc: external and give external_sbc.url)`;
/** The shipped config: beside the sources, which the package ships too (dist/ mirrors the tree). */
export const KAMAILIO_TEMPLATE = fileURLToPath(new URL('../../../../bridges/sip/sbc/kamailio.cfg', import.meta.url));

export class ManagedSbc {
  private kamailio: SupervisedProcess | null = null;
  private rtpengine: SupervisedProcess | null = null;
  private wsPort = 0;
  private ngPort = 0;
  private down = new Set<string>();

  constructor(private readonly options: ManagedSbcOptions) {}

  /** Where the bridge's lines connect. */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.wsPort}`;
  }

  /** The Kamailio main process (fault tests kill it). */
  get kamailioProcess(): SupervisedProcess | null {
    return this.kamailio;
  }

  async start(): Promise<void> {
    const o = this.options;
    for (const [what, binary] of [['kamailio', o.kamailio], ['rtpengine', o.rtpengine]] as const) {
      if (!SupervisedProcess.binaryExists(binary)) {
        throw new Error(`bridges.sip.sbc is managed, but ${what} (${binary}) is not installed: ${INSTALL_HINT}`);
      }
    }
    mkdirSync(o.dir, { recursive: true });
    this.wsPort = o.wsPort === 0 ? await freeTcpPort() : o.wsPort;
    this.ngPort = await freeUdpPort();
    const config = join(o.dir, 'kamailio.cfg');
    writeFileSync(config, renderKamailioConfig(readFileSync(KAMAILIO_TEMPLATE, 'utf8'), {
      SIP_ADDRESS: o.sipAddress,
      SIP_PORT: String(o.sipPort),
      WS_PORT: String(this.wsPort),
      NG_PORT: String(this.ngPort),
      DOMAIN: o.domain,
      DOMAIN_ALIAS: isIP(o.domain) ? '' : `alias="${o.domain}"`,
      GATEWAY_AOR: o.gatewayAor ?? '',
      BRIDGE_USERS: o.bridgeUsers.length > 0 ? `^(${o.bridgeUsers.map(escapeRegex).join('|')})$` : '^$',
    }));
    const events = {
      died: (name: string, reason: string, restartInMs: number) => {
        this.down.add(name);
        o.status.report('sbc', { state: 'backoff', reason: `${name} ${reason}; restarting it in ${Math.ceil(restartInMs / 1000)} s`, detail: this.detail() });
      },
      restarted: (name: string) => {
        this.down.delete(name);
        if (this.down.size === 0) o.status.report('sbc', { state: 'connected', detail: this.detail() });
      },
    };
    const interfaceArg = o.mediaAdvertise ? `${o.mediaAddress}!${o.mediaAdvertise}` : o.mediaAddress;
    this.rtpengine = new SupervisedProcess(
      {
        name: 'rtpengine',
        binary: o.rtpengine,
        pidFile: join(o.dir, 'rtpengine.pid'),
        args: [
          // Not /etc/rtpengine/rtpengine.conf (Debian's, with fixed CLI and HTTP ports): two Patchbays,
          // or one beside the system's rtpengine, would fight over those ports.
          '--config-file=none', '--foreground', `--interface=${interfaceArg}`, `--listen-ng=127.0.0.1:${this.ngPort}`,
          `--port-min=${o.rtpPortMin}`, `--port-max=${o.rtpPortMax}`, '--table=-1', '--no-fallback',
          '--log-stderr', '--log-level=5', '--delete-delay=0', `--pidfile=${join(o.dir, 'rtpengine.pid')}`,
        ],
        ready: (signal) => pingRtpengine(this.ngPort, signal),
      },
      o.logger,
      events,
      o.backoff,
    );
    this.kamailio = new SupervisedProcess(
      {
        name: 'kamailio',
        binary: o.kamailio,
        pidFile: join(o.dir, 'kamailio.pid'),
        args: ['-f', config, '-DD', '-E', '-m', '64', '-M', '8', '-P', join(o.dir, 'kamailio.pid'), '-w', o.dir, ...(o.defines ?? []).flatMap((d) => ['-A', d])],
        ready: (signal) => waitForTcp(this.wsPort, signal),
        hint: (output) => (/websocket\.so|xhttp\.so/.test(output) ? `the WebSocket module is missing: ${INSTALL_HINT}` : null),
      },
      o.logger,
      events,
      o.backoff,
    );
    o.status.report('sbc', { state: 'connecting', detail: this.detail() });
    try {
      await this.rtpengine.start();
      await this.kamailio.start();
    } catch (err) {
      await this.stop();
      o.status.report('sbc', { state: 'failed', reason: err instanceof Error ? err.message : String(err), detail: this.detail() });
      throw err instanceof ProcessStartError ? new Error(`bridges.sip: the managed SBC: ${err.message}`) : err;
    }
    o.status.report('sbc', { state: 'connected', detail: this.detail() });
    o.logger.info({ ws: this.wsUrl, sip: `${o.sipAddress}:${o.sipPort}`, domain: o.domain, media: interfaceArg }, 'managed SBC (Kamailio + rtpengine) started');
  }

  async stop(): Promise<void> {
    await this.kamailio?.stop();
    await this.rtpengine?.stop();
    this.kamailio = null;
    this.rtpengine = null;
  }

  private detail(): Record<string, string | number> {
    const o = this.options;
    return { sip: `${o.sipAddress}:${o.sipPort}`, domain: o.domain, ws: this.wsUrl, media: o.mediaAddress };
  }
}

/** The shipped template with its @@NAME@@ placeholders filled in; a placeholder left over is an error. */
export function renderKamailioConfig(template: string, values: Record<string, string>): string {
  const out = template.replace(/@@([A-Z_]+)@@/g, (whole, name: string) => values[name] ?? whole);
  const left = /@@([A-Z_]+)@@/.exec(out);
  if (left) throw new Error(`the Kamailio template needs a value for ${left[1]}`);
  return out;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

async function waitForTcp(port: number, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** rtpengine's control protocol (bencode over UDP): `ping` answers `pong`. */
async function pingRtpengine(port: number, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4');
      const timer = setTimeout(() => {
        socket.close();
        resolve(false);
      }, 200);
      socket.once('message', (msg) => {
        clearTimeout(timer);
        socket.close();
        resolve(msg.toString().includes('pong'));
      });
      socket.once('error', () => {
        clearTimeout(timer);
        socket.close();
        resolve(false);
      });
      socket.send('patchbay d7:command4:pinge', port, '127.0.0.1');
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
}
