// Mail that could not be sent at once (a relay or MX that is down, greylisting, a 4xx) waits here, in
// Redis (the plugin store), and is tried again with a growing delay until it is sent, refused (5xx) or
// too old; the latter two are shown on the Matrix event. Any process of the bridge may run the queue: a
// lease per mail keeps two from sending it at the same moment. A Matrix room's later messages do not wait
// for it (mail has no order to keep).
import type { BridgeContext, Logger } from 'patchbay-matrix/plugin';
import type { DeliveryFeedback, SentMail } from './DeliveryFeedback.js';
import type { EmailConfig } from './EmailConfig.js';
import { DeliveryError, type MailTransport } from './MailTransport.js';

interface QueuedMail extends SentMail {
  from: string;
  raw: string;
  attempts: number;
  firstAt: number;
  nextAt: number;
  lastError: string;
}

const LEASE_SECONDS = 600;

export class OutboundQueue {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly ctx: BridgeContext<EmailConfig>,
    private readonly transport: MailTransport,
    private readonly feedback: DeliveryFeedback,
    private readonly outcome: (outcome: 'sent' | 'retried' | 'refused' | 'expired') => void,
    private readonly logger: Logger,
  ) {}

  /** Queues a mail whose first try failed for a reason worth waiting out. */
  async add(sent: SentMail, from: string, raw: Buffer, error: string): Promise<void> {
    const now = Date.now();
    const item: QueuedMail = { ...sent, from, raw: raw.toString('base64'), attempts: 1, firstAt: now, nextAt: now + this.delay(1), lastError: error };
    await this.ctx.store.set(`outq:${sent.eventId}`, JSON.stringify(item));
  }

  async depth(): Promise<number> {
    return (await this.ctx.store.keys('outq:')).length;
  }

  /** Runs the queue every `intervalMs` until stop(). */
  start(intervalMs: number): void {
    const tick = (): void => {
      this.running = this.runOnce()
        .catch((err: unknown) => this.logger.warn({ err }, 'outbound queue run failed'))
        .finally(() => {
          this.running = null;
          if (this.timer !== null) this.timer = setTimeout(tick, intervalMs);
        });
    };
    this.timer = setTimeout(tick, intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Tries every mail that is due. */
  async runOnce(now = Date.now()): Promise<void> {
    for (const key of await this.ctx.store.keys('outq:')) {
      const json = await this.ctx.store.get(key);
      if (json === null) continue;
      const item = JSON.parse(json) as QueuedMail;
      if (item.nextAt > now) continue;
      const lease = `outq-lease:${item.eventId}`;
      if (!(await this.ctx.store.setIfAbsent(lease, String(process.pid), LEASE_SECONDS))) continue;
      try {
        await this.attempt(key, item);
      } finally {
        await this.ctx.store.delete(lease);
      }
    }
  }

  private async attempt(key: string, item: QueuedMail): Promise<void> {
    try {
      await this.transport.send(item.from, item.to, Buffer.from(item.raw, 'base64'));
      await this.ctx.store.delete(key);
      this.outcome('sent');
      return;
    } catch (err) {
      const failure = err instanceof DeliveryError ? err : new DeliveryError((err as Error).message, false);
      const giveUpAt = item.firstAt + this.ctx.config.outbound.retry.give_up_after_hours * 3_600_000;
      if (failure.permanent || Date.now() >= giveUpAt) {
        await this.ctx.store.delete(key);
        this.outcome(failure.permanent ? 'refused' : 'expired');
        const why = failure.permanent ? failure.message : `gave up after ${item.attempts} tries: ${failure.message}`;
        await this.feedback.markFailed(item, why, `outq:${item.eventId}`);
        return;
      }
      const next = { ...item, attempts: item.attempts + 1, nextAt: Date.now() + this.delay(item.attempts + 1), lastError: failure.message };
      await this.ctx.store.set(key, JSON.stringify(next));
      this.outcome('retried');
    }
  }

  private delay(attempt: number): number {
    const r = this.ctx.config.outbound.retry;
    return Math.min(r.max_ms, r.initial_ms * 2 ** (attempt - 1));
  }
}
