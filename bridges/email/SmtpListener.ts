// The inbound SMTP server (smtp-server): mail for the bridged domains only (never an open relay), the
// recipient checked at RCPT (unknown: 550 there, not a bounce later), STARTTLS only with the operator's
// certificate, a size limit, rate limits per client, and a 250 only once the mail is fsynced in the spool.
// It runs in the SMTP worker thread (SmtpWorker): who an address reaches and sender checks at SMTP time
// are answered by the bridge through `recipient` and `senderCheck`.
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import type { ConnectionReport } from 'patchbay-matrix/plugin';
import { ClientRateLimiter } from './ClientRateLimiter.js';
import type { EmailConfig } from './EmailConfig.js';
import { normalizeAddress } from './MailAddress.js';
import { SizeExceededError, type MailSpool } from './MailSpool.js';
import type { SenderVerdict } from './SenderChecks.js';
import type { RecipientAnswer, RejectReason, SenderClient } from './SmtpThreadProtocol.js';

export type { RejectReason } from './SmtpThreadProtocol.js';

type LogFn = (fields: Record<string, unknown>, message: string) => void;

export interface SmtpListenerDeps {
  settings: EmailConfig['smtp'];
  hostname: string;
  spool: MailSpool;
  /** Whether a RCPT TO is taken (`mailFrom` normalised, null for the null sender). */
  recipient(rcpt: string, mailFrom: string | null): Promise<RecipientAnswer>;
  /** The sender-check verdict of a written mail, when some policy refuses at SMTP time; else null. */
  senderCheck: ((path: string, client: SenderClient) => Promise<SenderVerdict | null>) | null;
  /**
   * Runs once this process holds the port, before any client is served: the spool belongs to the process
   * that listens (another process of this machine waiting for the port must not touch it).
   */
  prepare(): Promise<void>;
  /** The port is held (the configured one, or the one the OS chose for port 0). */
  bound(port: number): void;
  /** A mail was acknowledged: it is in the spool. */
  accepted(id: string): void;
  rejected(reason: RejectReason): void;
  status: { report(connection: string, report: ConnectionReport): void };
  logger: { info: LogFn; warn: LogFn; error: LogFn };
}

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

export class SmtpListener {
  private server: SMTPServer | null = null;
  private readonly messages: ClientRateLimiter;
  private readonly connections: ClientRateLimiter;
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;
  private boundPort = 0;
  private prepared: Promise<void> | null = null;

  constructor(private readonly deps: SmtpListenerDeps) {
    const r = deps.settings.rate_limit;
    this.messages = new ClientRateLimiter(r.messages_per_minute, r.burst);
    this.connections = new ClientRateLimiter(r.connections_per_minute, Math.max(r.burst, 10));
  }

  /** The port it listens on (the configured one, or the one the OS chose for port 0). */
  get port(): number {
    return this.boundPort;
  }

  /** Listens; when the port is taken (another process of this machine has it), tries again every 5 s. */
  async start(): Promise<void> {
    const s = this.deps.settings;
    const tls = s.tls === null ? {} : { key: readFileSync(s.tls.key_file), cert: readFileSync(s.tls.cert_file) };
    const options: SMTPServerOptions = {
      name: this.deps.hostname,
      banner: 'Patchbay email bridge',
      authOptional: true,
      // An MX for its own domains: no AUTH; STARTTLS only with the operator's certificate (smtp-server's built-in one has expired).
      disabledCommands: s.tls === null ? ['AUTH', 'STARTTLS'] : ['AUTH'],
      ...tls,
      size: s.max_message_bytes,
      maxClients: s.max_clients,
      maxRecipients: s.max_recipients,
      socketTimeout: s.socket_timeout_ms,
      disableReverseLookup: true,
      logger: false,
      onConnect: (session, cb) => {
        (this.prepared ?? Promise.resolve()).then(
          () => cb(this.connections.take(session.remoteAddress) ? null : this.limited('connections', session)),
          () => cb(smtpError(421, '4.3.0 The mail spool is not available; try again later')),
        );
      },
      onMailFrom: (address, session, cb) => cb(this.messages.take(session.remoteAddress) ? null : this.limited('messages', session, address)),
      onRcptTo: (address, session, cb) => {
        this.checkRecipient(address, session).then(() => cb(), (err: Error) => cb(err));
      },
      onData: (stream, session, cb) => {
        this.receive(stream, session).then(
          (id) => cb(null, `Queued as ${id}`),
          (err: Error) => cb(err),
        );
      },
    };
    this.server = new SMTPServer(options);
    this.server.on('error', (err: Error) => this.deps.logger.warn({ err }, 'SMTP connection error'));
    await this.listen();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    this.deps.status.report('smtp', { state: 'stopped', reason: 'the bridge stopped' });
  }

  private listen(): Promise<void> {
    const { bind, port, tls } = this.deps.settings;
    const server = this.server;
    if (server === null || this.stopped) return Promise.resolve();
    this.deps.status.report('smtp', { state: 'connecting', detail: { listen: `${bind}:${port}` } });
    return new Promise((resolve) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const reason = err.code === 'EADDRINUSE' ? `${bind}:${port} is in use (by another process?); trying again every 5 s` : `cannot listen on ${bind}:${port}: ${err.message}`;
        this.deps.status.report('smtp', { state: 'backoff', reason });
        this.deps.logger.warn({ err, bind, port }, 'SMTP listener could not listen');
        this.retry = setTimeout(() => void this.listen(), 5_000);
        resolve();
      };
      server.server.once('error', onError);
      server.listen(port, bind, () => {
        server.server.off('error', onError);
        this.boundPort = (server.server.address() as AddressInfo).port;
        this.deps.bound(this.boundPort);
        this.prepared ??= this.deps.prepare();
        this.deps.status.report('smtp', { state: 'connected', detail: { listen: `${bind}:${this.boundPort}`, starttls: tls !== null } });
        this.deps.logger.info({ bind, port: this.boundPort, starttls: tls !== null }, 'SMTP listener ready');
        this.prepared.then(resolve, (err: unknown) => {
          this.deps.status.report('smtp', { state: 'failed', reason: `the mail spool cannot be used: ${(err as Error).message}` });
          resolve();
        });
      });
    });
  }

  private limited(what: string, session: SMTPServerSession, address?: SMTPServerAddress): Error {
    this.deps.rejected('rate');
    this.deps.logger.info({ client: session.remoteAddress, from: address?.address }, `SMTP client over its ${what} rate limit`);
    return smtpError(451, `4.7.1 Too many ${what} from ${session.remoteAddress}; try again later`);
  }

  private async checkRecipient(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    const sender = session.envelope.mailFrom ? normalizeAddress(session.envelope.mailFrom.address) : null;
    let answer: RecipientAnswer;
    try {
      answer = await this.deps.recipient(address.address, sender);
    } catch (err) {
      this.deps.logger.warn({ err, rcpt: address.address }, 'could not look up a recipient');
      answer = { accept: false, reason: 'unavailable', code: 451, message: '4.3.0 Recipient lookup failed; try again later' };
    }
    if (!answer.accept) {
      this.deps.rejected(answer.reason);
      throw smtpError(answer.code, answer.message);
    }
  }

  private async receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    const { spool, senderCheck } = this.deps;
    const id = spool.newId();
    let written: { size: number };
    try {
      written = await spool.write(id, stream, this.deps.settings.max_message_bytes, () => stream.sizeExceeded);
    } catch (err) {
      if (err instanceof SizeExceededError) {
        this.deps.rejected('size');
        throw smtpError(552, `5.3.4 Message too big: the limit is ${err.limit} bytes`);
      }
      this.deps.logger.error({ err }, 'could not spool a mail');
      throw smtpError(451, '4.3.0 Could not store the message; try again later');
    }
    const mailFrom = session.envelope.mailFrom ? normalizeAddress(session.envelope.mailFrom.address) : null;
    let verdict: SenderVerdict | undefined;
    if (senderCheck !== null) {
      try {
        verdict = (await senderCheck(spool.tempPath(id), { ip: session.remoteAddress, helo: session.hostNameAppearsAs, mailFrom })) ?? undefined;
      } catch (err) {
        this.deps.logger.warn({ err }, 'sender checks failed to run; deciding after delivery');
      }
      if (verdict?.failed === true && verdict.policy === 'reject') {
        await spool.discard(id);
        this.deps.rejected('sender_check');
        throw smtpError(550, `5.7.1 Sender checks failed for ${verdict.fromDomain ?? 'the sender'} (SPF ${verdict.spf}, DKIM ${verdict.dkim}, DMARC ${verdict.dmarc})`);
      }
    }
    try {
      await spool.commit({
        id,
        receivedAt: Date.now(),
        mailFrom,
        rcptTo: session.envelope.rcptTo.map((r) => normalizeAddress(r.address) ?? r.address),
        remoteAddress: session.remoteAddress,
        helo: session.hostNameAppearsAs,
        secure: session.secure,
        size: written.size,
        ...(verdict && { verdict: { ...verdict } }),
      });
    } catch (err) {
      await spool.discard(id);
      this.deps.logger.error({ err }, 'could not commit a mail to the spool');
      throw smtpError(451, '4.3.0 Could not store the message; try again later');
    }
    this.deps.accepted(id);
    return id;
  }
}
