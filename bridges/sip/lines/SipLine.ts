// One SIP line: a sip.js user agent on its own WebSocket connection to the SBC, registered as the line's
// address of record when it registers. It reconnects with backoff after the connection drops, registers
// again, and reports each step through ctx.status (connecting, connected, backoff, failed + reason), so
// /health and `patchbay doctor` show every line. Inbound requests pass the InboundGuard first.
import { Registerer, RegistererState, UserAgent, type Invitation, type Message, type Session, type SessionDescriptionHandler } from 'sip.js';
import type { BridgeStatus, Logger } from 'patchbay-matrix/plugin';
import type { NumberFormat } from '../numbers/NumberPlan.js';
import { checkInbound, type GuardLimits } from '../sip/InboundGuard.js';
import { deliverParsed } from '../sip/ParsedHandoff.js';

export interface LineSettings {
  id: string;
  /** `sip:+14155550123@sip.carrier.example`. */
  aor: string;
  registrar: string | null;
  register: boolean;
  registerExpiresS: number;
  authUsername: string | null;
  password: string | null;
  outboundProxy: string | null;
  displayName: string | null;
  numberFormat: NumberFormat;
  /** Called number (E.164 or `*`) -> Matrix users who ring. */
  routes: Record<string, string[]>;
  /** The Matrix user whose own account this is (`!sip login`); null for a configured trunk. */
  owner: string | null;
}

export interface LineDeps {
  wsUrl: string;
  status: BridgeStatus;
  logger: Logger;
  limits: GuardLimits;
  /** The SDP side of a session (the call it belongs to). */
  sdh(session: Session): SessionDescriptionHandler;
  onInvite(line: SipLine, invitation: Invitation): void;
  onMessage(line: SipLine, message: Message): void;
  /** The connection dropped: what ran on it is gone. */
  onConnectionLost(line: SipLine): void;
  /** Connected (and registered, when the line registers): requests can go out. */
  onReady(line: SipLine): void;
  /** Backoff after a failed connect or registration (tests shorten it). */
  backoff?: { initialMs: number; maxMs: number };
  /** The guard refused an inbound message (for the metrics). */
  refused?(reason: 'malformed' | 'too_large'): void;
}

export class RegistrationRefused extends Error {
  constructor(readonly statusCode: number, reasonPhrase: string) {
    super(`${statusCode} ${reasonPhrase}`);
    this.name = 'RegistrationRefused';
  }
}

const REGISTER_TIMEOUT_MS = 10_000;

export class SipLine {
  readonly ua: UserAgent;
  /** The line's domain: where dialled numbers go. */
  readonly domain: string;
  private registerer: Registerer | null = null;
  private stopped = false;
  private ready = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private started = false;

  constructor(
    readonly settings: LineSettings,
    private readonly deps: LineDeps,
  ) {
    const uri = UserAgent.makeURI(settings.aor);
    if (!uri) throw new Error(`line ${settings.id}: ${settings.aor} is not a SIP URI`);
    this.domain = uri.host + (uri.port ? `:${uri.port}` : '');
    const log = deps.logger;
    this.ua = new UserAgent({
      uri,
      displayName: settings.displayName ?? undefined,
      authorizationUsername: settings.authUsername ?? uri.user,
      authorizationPassword: settings.password ?? undefined,
      transportOptions: { server: deps.wsUrl, connectionTimeout: 5, keepAliveInterval: 15 },
      logConfiguration: false,
      noAnswerTimeout: 3600,
      preloadedRouteSet: settings.outboundProxy ? [settings.outboundProxy] : [],
      sessionDescriptionHandlerFactory: (session) => deps.sdh(session),
      logBuiltinEnabled: false,
      logLevel: 'warn',
      // sip.js is chatty; its own warnings are about the peer's behaviour, the bridge says what matters.
      logConnector: (level, category, _label, content) => (level === 'error' ? log.warn : log.debug).call(log, { sip: category }, content),
      userAgentString: 'Patchbay',
      delegate: {
        onInvite: (invitation) => deps.onInvite(this, invitation),
        onMessage: (message) => deps.onMessage(this, message),
        onDisconnect: (error) => this.lost(error),
      },
    });
    this.guardInbound();
  }

  get id(): string {
    return this.settings.id;
  }

  /** Connected, and registered when the line registers. */
  get isReady(): boolean {
    return this.ready;
  }

  /** Starts connecting in the background; the state goes to ctx.status. */
  start(): void {
    this.stopped = false;
    this.loop ??= this.connectLoop().finally(() => (this.loop = null));
  }

  /** Resolves once the line is ready (for tests and tools), rejects after `timeoutMs`. */
  async whenReady(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ready) {
      if (Date.now() > deadline) throw new Error(`line ${this.id} is not ready after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    const wasReady = this.ready;
    this.ready = false;
    if (wasReady && this.registerer?.state === RegistererState.Registered) {
      await Promise.race([this.registerer.unregister().catch(() => undefined), sleep(1000)]);
    }
    await this.registerer?.dispose().catch(() => undefined);
    this.registerer = null;
    await this.ua.stop().catch(() => undefined);
    await this.loop;
    this.deps.status.report(this.id, { state: 'stopped' });
  }

  /** Sends a raw message on the line's connection (a stateless answer, a clean-up request after a restart). */
  sendRaw(message: string): Promise<void> {
    return this.ua.transport.send(message);
  }

  private async connectLoop(): Promise<void> {
    const { initialMs, maxMs } = this.deps.backoff ?? { initialMs: 500, maxMs: 30_000 };
    let delay = initialMs;
    const detail = { aor: this.settings.aor, sbc: this.deps.wsUrl };
    while (!this.stopped) {
      this.deps.status.report(this.id, { state: 'connecting', detail });
      let failure: string;
      try {
        await this.connect();
        if (this.settings.register) await this.register();
        this.ready = true;
        this.deps.status.report(this.id, { state: 'connected', detail: { ...detail, registered: this.settings.register } });
        this.deps.onReady(this);
        return;
      } catch (err) {
        failure = this.describe(err);
      }
      if (this.stopped) return;
      const refused = failure.startsWith('registration refused: 401') || failure.startsWith('registration refused: 403');
      // Bad credentials stay bad: say so plainly, and try again only slowly.
      const wait = refused ? maxMs : delay;
      this.deps.status.report(this.id, { state: refused ? 'failed' : 'backoff', reason: `${failure}; next try in ${Math.ceil(wait / 1000)} s`, detail });
      this.deps.logger.warn({ line: this.id, reason: failure, retry_ms: wait }, 'SIP line not ready');
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, wait);
      });
      this.wake = null;
      delay = Math.min(delay * 2, maxMs);
    }
  }

  private async connect(): Promise<void> {
    if (this.ua.isConnected()) return;
    if (!this.started) {
      this.started = true;
      await this.ua.start();
    } else {
      await this.ua.reconnect();
    }
  }

  private register(): Promise<void> {
    const registrar = this.settings.registrar ? UserAgent.makeURI(this.settings.registrar) : undefined;
    if (!this.registerer) {
      this.registerer = new Registerer(this.ua, { expires: this.settings.registerExpiresS, refreshFrequency: 90, logConfiguration: false, ...(registrar && { registrar }) });
      this.registerer.stateChange.addListener((s) => this.registrationChanged(s));
    }
    const registerer = this.registerer;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`no answer to REGISTER within ${REGISTER_TIMEOUT_MS / 1000} s`)), REGISTER_TIMEOUT_MS);
      // A 200 settles it: after a reconnect the state is still Registered, so no state change would come.
      const onState = (state: RegistererState): void => {
        if (state === RegistererState.Registered) done(null);
      };
      const done = (err: Error | null): void => {
        clearTimeout(timer);
        registerer.stateChange.removeListener(onState);
        if (err) reject(err);
        else resolve();
      };
      registerer.stateChange.addListener(onState);
      registerer
        .register({ requestDelegate: { onAccept: () => done(null), onReject: (response) => done(new RegistrationRefused(response.message.statusCode ?? 0, response.message.reasonPhrase ?? "")) } })
        .catch((err: unknown) => done(err instanceof Error ? err : new Error(String(err))));
    });
  }

  /** A refresh that failed (the registrar forgot us, or refused the refresh): register again. */
  private registrationChanged(state: RegistererState): void {
    if (state !== RegistererState.Unregistered || this.stopped || !this.ready) return;
    this.ready = false;
    this.deps.logger.warn({ line: this.id }, 'SIP registration lapsed; registering again');
    this.start();
  }

  private lost(error: Error | undefined): void {
    if (this.stopped) return;
    this.ready = false;
    this.deps.logger.warn({ line: this.id, err: error?.message }, 'SIP connection to the SBC lost');
    this.deps.onConnectionLost(this);
    this.start();
  }

  private describe(err: unknown): string {
    if (err instanceof RegistrationRefused) {
      const hint = err.statusCode === 401 || err.statusCode === 403 ? ` (check bridges.sip.lines.${this.id}.password_env and auth_username)` : '';
      return `registration refused: ${err.message}${hint}`;
    }
    const message = err instanceof Error ? err.message : String(err);
    return `cannot reach the SBC at ${this.deps.wsUrl}: ${message}`;
  }

  /** Runs each inbound message through the guard; a refused request is answered and never reaches sip.js. */
  private guardInbound(): void {
    const transport = this.ua.transport;
    const deliver = transport.onMessage;
    transport.onMessage = (raw: string) => {
      const verdict = checkInbound(raw, this.deps.limits);
      if (verdict.ok) {
        if (deliver) deliverParsed(raw, verdict.message, deliver);
        return;
      }
      this.deps.logger.warn({ line: this.id, status: verdict.status, reason: verdict.reason, head: raw.slice(0, 200) }, 'refused an inbound SIP message');
      this.deps.refused?.(verdict.status === 400 && verdict.reason === 'Malformed Message' ? 'malformed' : 'too_large');
      if (verdict.reply) transport.send(verdict.reply).catch(() => undefined);
    };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
