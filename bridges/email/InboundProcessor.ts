// Takes acknowledged mails out of the spool into Matrix: at start (whatever a previous run left, oldest
// first) and as the SMTP server accepts them. A mail leaves the spool only once every recipient has it;
// one that cannot reach Matrix yet (the homeserver is down) waits and is tried again with a growing delay,
// for as long as it takes. One the homeserver refuses outright is moved to `failed/` with the reason.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MatrixApiError, type BridgeContext, type Logger } from 'patchbay-matrix/plugin';
import type { AddressBook } from './AddressBook.js';
import { readDeliveryReport } from './DeliveryReport.js';
import type { DeliveryFeedback } from './DeliveryFeedback.js';
import type { EmailConfig } from './EmailConfig.js';
import type { InboundDelivery } from './InboundDelivery.js';
import { readMail, type MailPerson } from './MailReader.js';
import type { MailSpool } from './MailSpool.js';
import type { SenderChecks, SenderVerdict } from './SenderChecks.js';

export type InboundOutcome = 'delivered' | 'duplicate' | 'refused' | 'blocked' | 'bounce' | 'unknown_recipient' | 'failed' | 'retried';

export interface InboundProcessorDeps {
  ctx: BridgeContext<EmailConfig>;
  spool: MailSpool;
  addresses: AddressBook;
  checks: SenderChecks;
  delivery: InboundDelivery;
  feedback: DeliveryFeedback;
  isBlocked(sender: string, userId: string): Promise<boolean>;
  counted(outcome: InboundOutcome): void;
  logger: Logger;
  /** Mails worked on at once. */
  concurrency: number;
}

const MAX_RETRY_MS = 5 * 60_000;

export class InboundProcessor {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly attempts = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private active = 0;
  private stopped = false;
  private idle: Array<() => void> = [];

  constructor(private readonly deps: InboundProcessorDeps) {}

  /** Picks up what an earlier run left in the spool. */
  async start(): Promise<void> {
    const pending = await this.deps.spool.pending();
    if (pending.length > 0) this.deps.logger.info({ mails: pending.length }, 'delivering mail accepted before the last stop');
    for (const id of pending) this.add(id);
  }

  add(id: string): void {
    if (this.stopped || this.queued.has(id)) return;
    this.queued.add(id);
    this.queue.push(id);
    this.pump();
  }

  /** Mails in the spool not yet in Matrix (waiting, being worked on, or waiting for a retry). */
  get depth(): number {
    return this.queued.size;
  }

  /** Waits for the mails being worked on; the rest stay in the spool for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.queue.length = 0;
    if (this.active > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    while (!this.stopped && this.active < this.deps.concurrency && this.queue.length > 0) {
      const id = this.queue.shift()!;
      this.active++;
      void this.run(id).finally(() => {
        this.active--;
        if (this.active === 0) for (const resolve of this.idle.splice(0)) resolve();
        this.pump();
      });
    }
  }

  private async run(id: string): Promise<void> {
    try {
      await this.process(id);
      await this.deps.spool.remove(id);
      this.queued.delete(id);
      this.attempts.delete(id);
    } catch (err) {
      if (MatrixApiError.is(err) && !err.transient) {
        this.deps.logger.error({ err, mail: id }, 'the homeserver refused a mail; kept in the spool folder failed/');
        await this.deps.spool.fail(id, err.message).catch(() => undefined);
        this.queued.delete(id);
        this.deps.counted('failed');
        return;
      }
      const n = (this.attempts.get(id) ?? 0) + 1;
      this.attempts.set(id, n);
      const delay = Math.min(MAX_RETRY_MS, 500 * 2 ** Math.min(n, 20));
      this.deps.logger.warn({ err, mail: id, attempt: n, retry_in_ms: delay }, 'could not deliver a mail to Matrix yet; it waits in the spool');
      this.deps.counted('retried');
      if (this.stopped) return;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.queued.delete(id);
        this.add(id);
      }, delay);
      this.timers.add(timer);
    }
  }

  private async process(id: string): Promise<void> {
    const { spool, addresses, checks, ctx } = this.deps;
    const env = await spool.envelope(id);
    const work = join(ctx.dataDir, 'work', id);
    try {
      const mail = await readMail(spool.openMessage(id), work);
      const sender: MailPerson = mail.from ?? { address: env.mailFrom ?? `postmaster@${env.helo.replace(/[[\]]/g, '') || 'unknown.invalid'}`, name: '' };
      let verdict = (env.verdict as SenderVerdict | undefined) ?? null;
      if (verdict === null && checks.enabled && env.rcptTo.some((r) => !r.startsWith(`${ctx.config.addresses.bounce_prefix}+`))) {
        verdict = await checks.check(spool.openMessage(id), { ip: env.remoteAddress, helo: env.helo, mailFrom: env.mailFrom }).catch((err: unknown) => {
          this.deps.logger.warn({ err, mail: id }, 'sender checks could not run');
          return null;
        });
      }
      for (const rcpt of env.rcptTo) {
        const target = await addresses.resolve(rcpt);
        if (target === null) {
          this.deps.logger.info({ mail: id, rcpt }, 'a recipient went away between accepting and delivering a mail');
          this.deps.counted('unknown_recipient');
          continue;
        }
        if (target.kind === 'bounce') {
          const known = await this.deps.feedback.report(target.token, await readDeliveryReport(spool.messagePath(id)), mail.subject);
          this.deps.counted(known ? 'bounce' : 'unknown_recipient');
          continue;
        }
        if (target.kind === 'user' && (await this.deps.isBlocked(sender.address, target.userId))) {
          this.deps.counted('blocked');
          continue;
        }
        const outcome = await this.deps.delivery.deliver(mail, sender, target, verdict, spool.messagePath(id));
        this.deps.counted(outcome);
        if (outcome === 'refused') this.deps.logger.info({ mail: id, rcpt, from: sender.address }, 'a room address refused a mail from a non-member');
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
}
