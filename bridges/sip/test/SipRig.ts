// The SIP bridge with real peers, for one suite: the stack `patchbay start` runs (Redis, the embedded
// homeserver, the event pipeline, the plugin host) with the SIP bridge running its managed SBC
// (Kamailio + rtpengine) on free ports, baresip phones registered at that SBC, and Matrix users who call
// with matrix-js-sdk and werift. Everything started here is stopped by stop().
import { PluginLoader } from '../../../core/plugin/PluginLoader.js';
import type { BuiltinBridgeRegistry } from '../../../core/plugin-api/index.js';
import { registerUser, startBridgeStack, waitFor, type BridgeStack, type BridgeStackOptions } from '../../../test/harness/index.js';
import type { SipBridge } from '../SipBridge.js';
import { Baresip, type BaresipOptions } from './Baresip.js';
import { freePorts, freeRtpRange } from './FreePorts.js';
import { MatrixPhone } from './MatrixPhone.js';

/** The managed SBC's SIP domain (a name: an IP address domain has no port-less alias). */
export const DOMAIN = 'sip.test';
/** The number the bridge's gateway line answers for in the tests. */
export const DID = '+14155550123';

const builtins: BuiltinBridgeRegistry = { sip: async () => (await import('../index.js')).default };

export interface SipRigOptions {
  appserviceId: string;
  /** bridges.sip settings over the rig's (lines, routes, limits...). */
  config?: (rig: { sipPort: number }) => Record<string, unknown>;
  /** Homeserver options over the test defaults (the benchmark lifts the send rate limits). */
  homeserver?: BridgeStackOptions['homeserver'];
  /** Env for the bridge (line passwords). */
  env?: Record<string, string>;
}

export class SipRig {
  stack!: BridgeStack;
  sipPort = 0;
  private readonly phones: Baresip[] = [];
  private readonly users: MatrixPhone[] = [];
  /** Media handshakes that stalled and were retried (werift's DTLS; counted, never ignored). */
  stalls = 0;

  private constructor(private readonly options: SipRigOptions) {}

  static async start(options: SipRigOptions): Promise<SipRig> {
    const rig = new SipRig(options);
    try {
      await rig.boot();
    } catch (err) {
      await rig.stop();
      throw err;
    }
    return rig;
  }

  get proxy(): string {
    return `127.0.0.1:${this.sipPort}`;
  }

  bridge(): SipBridge {
    return this.stack.host.bridge('sip')?.loaded.plugin as unknown as SipBridge;
  }

  /** The SIP bridge's config section as the rig runs it (before the suite's overrides). */
  baseConfig(): Record<string, unknown> {
    return {
      enabled: true,
      sbc: 'managed',
      managed_sbc: { sip_address: '127.0.0.1', domain: DOMAIN, sip_port: this.sipPort, rtp_port_min: this.rtp.min, rtp_port_max: this.rtp.max },
      default_region: 'US',
      lines: { gw: { aor: `sip:patchbay@${DOMAIN}`, routes: {} } },
      calls: { ring_timeout_s: 20, candidate_wait_ms: 1000 },
    };
  }

  private rtp = { min: 0, max: 0 };

  private async boot(): Promise<void> {
    this.sipPort = await freePorts(1);
    this.rtp = await freeRtpRange(300);
    for (const [k, v] of Object.entries(this.options.env ?? {})) process.env[k] = v;
    const section = { ...this.baseConfig(), ...this.options.config?.({ sipPort: this.sipPort }) };
    this.stack = await startBridgeStack({ appserviceId: this.options.appserviceId, homeserver: this.options.homeserver, bridges: () => new PluginLoader({ builtins }).load({ sip: section }) });
    await waitFor(async () => this.bridge().line('gw')?.isReady ?? true, 20_000, 'the gateway line to register');
  }

  /** A baresip phone registered at the rig's SBC. */
  async phone(options: Omit<BaresipOptions, 'domain' | 'proxy'>): Promise<Baresip> {
    const phone = new Baresip({ ...options, domain: DOMAIN, proxy: this.proxy });
    this.phones.push(phone);
    await phone.start();
    return phone;
  }

  /** A Matrix user with a client syncing, ready to call. */
  async user(localpart: string): Promise<MatrixPhone> {
    const user = await registerUser(this.stack.hs.url, localpart);
    const phone = await MatrixPhone.start(this.stack.hs.url, user);
    this.users.push(phone);
    return phone;
  }

  /** Restarts the plugin host (fresh bridge instances, same Redis, homeserver and SBC data folder). */
  async restartBridge(): Promise<void> {
    await this.stack.restartHost();
    await waitFor(async () => this.bridge().line('gw')?.isReady ?? true, 20_000, 'the gateway line to register again');
  }

  async stop(): Promise<void> {
    for (const u of this.users) u.stop();
    await Promise.all(this.phones.map((p) => p.stop().catch(() => undefined)));
    await this.stack?.stop();
  }
}
