// What became of a mail sent from Matrix, shown on the event that sent it: each outbound mail's return
// path is `bounces+<token>@<domain>` (VERP), the token remembered with the room and event; a delivery
// report that comes back to it, or a refusal or give-up of the outbound queue, becomes a reply to that
// event and a ⚠️ reaction on it. The outcome is also kept (`failedOf`) for tools and tests.
import { createHash } from 'node:crypto';
import type { BridgeContext } from 'patchbay-matrix/plugin';
import type { EmailConfig } from './EmailConfig.js';
import type { RecipientStatus } from './DeliveryReport.js';

const KEEP_SECONDS = 30 * 24 * 3600;

export interface SentMail {
  roomId: string;
  eventId: string;
  to: string[];
}

export class DeliveryFeedback {
  constructor(private readonly ctx: BridgeContext<EmailConfig>) {}

  /** The VERP token of an event: lower-case letters and digits, the same for every retry. */
  tokenFor(eventId: string): string {
    return createHash('sha256').update(eventId).digest('hex').slice(0, 20);
  }

  async remember(token: string, sent: SentMail): Promise<void> {
    await this.ctx.store.set(`bounce:${token}`, JSON.stringify(sent), KEEP_SECONDS);
  }

  async failedOf(eventId: string): Promise<string | null> {
    return this.ctx.store.get(`failed:${eventId}`);
  }

  /** A delivery report came back to `bounces+<token>@`: failures and delays are shown on the event. */
  async report(token: string, statuses: RecipientStatus[] | null, subject: string): Promise<boolean> {
    const json = await this.ctx.store.get(`bounce:${token}`);
    if (json === null) return false;
    const sent = JSON.parse(json) as SentMail;
    if (statuses === null) {
      // A bounce without a machine-readable report (old-style): say what it says.
      await this.markFailed(sent, `a bounce came back: ${subject || '(no subject)'}`, `nodsn:${token}`);
      return true;
    }
    for (const s of statuses) {
      const why = `${s.status}${s.diagnostic !== null ? ` ${s.diagnostic}` : ''}`;
      if (s.action === 'failed') await this.markFailed(sent, `${s.recipient}: ${why}`, `dsn:${token}:${s.recipient}`);
      else if (s.action === 'delayed') {
        await this.ctx.outbox.enqueue({
          remoteId: `dsn-delay:${token}:${s.recipient}`,
          roomId: sent.roomId,
          senderRemoteId: null,
          type: 'm.room.message',
          content: { msgtype: 'm.notice', body: `⏳ Delivery to ${s.recipient} is delayed (${why}); the mail server keeps trying.`, 'm.relates_to': { 'm.in_reply_to': { event_id: sent.eventId } } },
        });
      }
    }
    return true;
  }

  /** Shows a failure on the event: a reply saying why, and a ⚠️ reaction. Posted once per `key`. */
  async markFailed(sent: SentMail, reason: string, key: string): Promise<void> {
    await this.ctx.store.set(`failed:${sent.eventId}`, reason, KEEP_SECONDS);
    await this.ctx.outbox.enqueue({
      remoteId: key,
      roomId: sent.roomId,
      senderRemoteId: null,
      type: 'm.room.message',
      content: { msgtype: 'm.notice', body: `⚠️ Not delivered: ${reason}`, 'm.relates_to': { 'm.in_reply_to': { event_id: sent.eventId } } },
    });
    await this.ctx.outbox.enqueue({
      remoteId: `failed-reaction:${sent.eventId}`,
      roomId: sent.roomId,
      senderRemoteId: null,
      type: 'm.reaction',
      content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: sent.eventId, key: '⚠️ not delivered' } },
    });
  }
}
