// Sends a built mail: through the configured relay (nodemailer, pooled; TLS and auth as configured), or
// straight to each recipient domain's MX hosts in priority order (opportunistic STARTTLS, as MTAs do).
// Failures are told apart the way MTAs do: 5xx is permanent, 4xx and connection trouble are worth
// another try later.
import { promises as dns } from 'node:dns';
import { createTransport, type Transporter } from 'nodemailer';
import type { BridgeStatus, Logger } from 'patchbay-matrix/plugin';
import type { EmailConfig } from './EmailConfig.js';

export class DeliveryError extends Error {
  constructor(
    message: string,
    /** True: the receiving server refused it (5xx); trying again will not help. */
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export type MxResolver = (domain: string) => Promise<Array<{ exchange: string; priority: number }>>;

interface SmtpFailure {
  responseCode?: number;
  response?: string;
  code?: string;
  message?: string;
}

function failureOf(err: unknown, where: string): DeliveryError {
  const e = err as SmtpFailure;
  const code = e.responseCode;
  const text = (e.response ?? e.message ?? String(err)).replace(/\s+/g, ' ').trim();
  return new DeliveryError(`${where}: ${text}`, code !== undefined && code >= 500 && code < 600);
}

export class MailTransport {
  private relay: Transporter | null = null;
  private readonly mxTransports = new Map<string, Transporter>();

  constructor(
    private readonly settings: EmailConfig['outbound'],
    private readonly hostname: string,
    private readonly status: BridgeStatus,
    private readonly logger: Logger,
    private readonly resolveMx: MxResolver = (domain) => dns.resolveMx(domain),
  ) {
    const r = settings.relay;
    if (r !== null) {
      this.relay = createTransport({
        host: r.host,
        port: r.port,
        secure: r.secure,
        requireTLS: r.require_tls && !r.secure,
        ...(r.user !== null && { auth: { user: r.user, pass: r.password ?? '' } }),
        tls: { rejectUnauthorized: r.reject_unauthorized },
        name: hostname,
        pool: true,
        maxConnections: 4,
        connectionTimeout: settings.timeout_ms,
        greetingTimeout: settings.timeout_ms,
        socketTimeout: settings.timeout_ms,
      });
    }
  }

  /** Checks the relay once at start (status `relay`); direct MX delivery has nothing to check. */
  async verify(): Promise<void> {
    const r = this.settings.relay;
    if (this.relay === null || r === null) return;
    this.status.report('relay', { state: 'connecting', detail: { relay: `${r.host}:${r.port}` } });
    try {
      await this.relay.verify();
      this.status.report('relay', { state: 'connected', detail: { relay: `${r.host}:${r.port}` } });
    } catch (err) {
      this.status.report('relay', { state: 'backoff', reason: `${r.host}:${r.port}: ${(err as Error).message}; outbound mail waits in the queue` });
    }
  }

  async send(from: string, to: string[], raw: Buffer): Promise<void> {
    if (this.relay !== null) {
      const r = this.settings.relay!;
      try {
        await this.relay.sendMail({ envelope: { from, to }, raw });
      } catch (err) {
        const failure = failureOf(err, `the relay ${r.host}:${r.port}`);
        if (!failure.permanent) this.status.report('relay', { state: 'backoff', reason: `${failure.message}; outbound mail waits in the queue` });
        throw failure;
      }
      this.status.report('relay', { state: 'connected', detail: { relay: `${r.host}:${r.port}` } });
      return;
    }
    const byDomain = new Map<string, string[]>();
    for (const rcpt of to) {
      const domain = rcpt.slice(rcpt.lastIndexOf('@') + 1).toLowerCase();
      byDomain.set(domain, [...(byDomain.get(domain) ?? []), rcpt]);
    }
    for (const [domain, rcpts] of byDomain) await this.sendDirect(domain, from, rcpts, raw);
  }

  async close(): Promise<void> {
    this.relay?.close();
    for (const t of this.mxTransports.values()) t.close();
    this.mxTransports.clear();
  }

  private async sendDirect(domain: string, from: string, to: string[], raw: Buffer): Promise<void> {
    let hosts: string[];
    try {
      const mx = await this.resolveMx(domain);
      // No MX record: the domain itself (RFC 5321 5.1).
      hosts = mx.length > 0 ? mx.sort((a, b) => a.priority - b.priority).map((m) => m.exchange) : [domain];
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA') throw new DeliveryError(`${domain} has no mail server (no MX or address record)`, true);
      throw new DeliveryError(`looking up the mail servers of ${domain} failed: ${(err as Error).message}`, false);
    }
    let last: DeliveryError | null = null;
    for (const host of hosts) {
      try {
        await this.mxTransport(host).sendMail({ envelope: { from, to }, raw });
        return;
      } catch (err) {
        last = failureOf(err, host);
        // A refusal is the domain's answer; a connection problem means trying its next MX.
        if (last.permanent || (err as SmtpFailure).responseCode !== undefined) throw last;
        this.logger.info({ host, domain, err: last.message }, 'MX host unreachable; trying the next one');
      }
    }
    throw last ?? new DeliveryError(`no mail server of ${domain} could be reached`, false);
  }

  private mxTransport(host: string): Transporter {
    let t = this.mxTransports.get(host);
    if (t === undefined) {
      t = createTransport({
        host,
        port: this.settings.mx_port,
        secure: false,
        name: this.hostname,
        // Opportunistic STARTTLS, as between MTAs: most MX certificates are not checked by senders.
        tls: { rejectUnauthorized: false },
        connectionTimeout: this.settings.timeout_ms,
        greetingTimeout: this.settings.timeout_ms,
        socketTimeout: this.settings.timeout_ms,
      });
      if (this.mxTransports.size > 500) {
        const oldest = this.mxTransports.keys().next().value as string;
        this.mxTransports.get(oldest)?.close();
        this.mxTransports.delete(oldest);
      }
      this.mxTransports.set(host, t);
    }
    return t;
  }
}
