// Matrix messages in email rooms as mail: from the user's bridged address to the correspondent (or, in a
// room with an address, to its email members as a list), threaded (In-Reply-To/References from the
// message map), DKIM-signed, with a VERP return path so a bounce finds its event. Edits and redactions
// follow as short mails in the same thread. Sent at once where possible; otherwise queued and retried.
import { PermanentError, type BridgeContext, type EventContext, type MatrixEvent, type MediaContent, type RemoteLocation } from 'patchbay-matrix/plugin';
import type { AddressBook } from './AddressBook.js';
import type { DeliveryFeedback } from './DeliveryFeedback.js';
import type { EmailConfig } from './EmailConfig.js';
import { subjectIsNew } from './InboundContent.js';
import { NETWORK, type InboundDelivery, type MailHeaders } from './InboundDelivery.js';
import type { MailSigner } from './MailSigner.js';
import { DeliveryError, type MailTransport } from './MailTransport.js';
import { composeMail, messageIdFor, withoutReplyFallback, type OutgoingMail } from './OutboundComposer.js';
import type { OutboundQueue } from './OutboundQueue.js';

export type OutboundOutcome = 'sent' | 'queued' | 'refused';

/** The email side of a room, from its link. */
export interface MailRoom {
  key: RemoteLocation;
  kind: 'dm' | 'thread' | 'list';
  correspondent: string | null;
  own: string | null;
  listName: string | null;
}

export interface MatrixToMailDeps {
  ctx: BridgeContext<EmailConfig>;
  addresses: AddressBook;
  transport: MailTransport;
  signer: MailSigner | null;
  queue: OutboundQueue;
  feedback: DeliveryFeedback;
  delivery: InboundDelivery;
  counted(outcome: OutboundOutcome): void;
}

const KEEP_SECONDS = 90 * 24 * 3600;
const bare = (subject: string): string => subject.replace(/^\s*((re|aw|fwd?|sv|wg)\s*:\s*)+/i, '').trim();

export class MatrixToMail {
  constructor(private readonly deps: MatrixToMailDeps) {}

  async send(event: MatrixEvent, ectx: EventContext, room: MailRoom, media?: MediaContent): Promise<void> {
    const { ctx } = this.deps;
    if (!(await ctx.store.setIfAbsent(`handled:${event.event_id}`, '1', KEEP_SECONDS))) return;
    try {
      await this.sendOnce(event, ectx, room, media);
    } catch (err) {
      // Not handled after all: the host's retry must try again.
      await ctx.store.delete(`handled:${event.event_id}`);
      throw err;
    }
  }

  private async sendOnce(event: MatrixEvent, ectx: EventContext, room: MailRoom, media?: MediaContent): Promise<void> {
    const { ctx, addresses } = this.deps;
    const content = event.content as { body?: unknown; format?: unknown; formatted_body?: unknown; 'm.new_content'?: { body?: unknown; formatted_body?: unknown } };
    const who = await this.sender(event, room, ectx.fromBridge);
    const to = await this.recipients(room, event.room_id, event.sender);
    if (to.length === 0) return;

    // Threading: the mail this one answers.
    const relation = ectx.relation;
    const target = relation.replaces ?? relation.inReplyTo ?? null;
    let parentId: string | null = null;
    if (target !== null) parentId = (await ctx.messages.remoteFor(target))?.messageId ?? null;
    if (parentId === null && relation.threadRoot !== undefined) {
      parentId = (await ctx.store.get(`last:${relation.threadRoot}`)) ?? (await ctx.messages.remoteFor(relation.threadRoot))?.messageId ?? null;
    }
    if (parentId === null && room.kind !== 'dm') parentId = await ctx.store.get(`last:${event.room_id}`);
    const parent = parentId === null ? null : await this.headers(parentId);

    let text: string;
    let html: string | null = null;
    if (relation.replaces !== undefined) {
      const next = content['m.new_content'];
      text = `✏️ ${who.name} corrected their message:\n\n${typeof next?.body === 'string' ? next.body : ''}`;
    } else if (media !== undefined) {
      text = typeof content.body === 'string' && content.body !== media.filename ? content.body : `${who.name} sent ${media.filename}.`;
    } else {
      text = typeof content.body === 'string' ? withoutReplyFallback(content.body) : '';
      if (content.format === 'org.matrix.custom.html' && typeof content.formatted_body === 'string') html = content.formatted_body;
    }
    const firstLine = text.split('\n').find((l) => l.trim() !== '')?.trim() ?? '(no subject)';
    const subject = parent !== null ? `Re: ${bare(parent.subject)}` : room.kind === 'list' ? `[${room.listName}] ${firstLine.slice(0, 70)}` : firstLine.length > 78 ? `${firstLine.slice(0, 75)}…` : firstLine;
    const fromDomain = who.address.slice(who.address.lastIndexOf('@') + 1);
    const messageId = messageIdFor(event.event_id, fromDomain);
    const references = parent !== null && parentId !== null ? [...parent.references, parentId].slice(-20) : [];
    const mail: OutgoingMail = {
      from: { name: who.name, address: who.address },
      to,
      subject,
      text,
      html,
      messageId,
      inReplyTo: parentId,
      references,
      ...(media !== undefined && { attachments: [{ filename: media.filename, content: Buffer.from(media.bytes), contentType: media.mimetype }] }),
      ...(room.kind === 'list' && room.listName !== null && this.listHeaders(room.listName, who.address)),
    };
    let raw = await composeMail(mail);
    if (this.deps.signer !== null) raw = await this.deps.signer.sign(raw, fromDomain);

    const sent = { roomId: event.room_id, eventId: event.event_id, to };
    const token = this.deps.feedback.tokenFor(event.event_id);
    await this.deps.feedback.remember(token, sent);
    const returnPath = addresses.bounceAddress(token, fromDomain);
    // Recorded before sending: a reply may come back faster than this handler returns.
    await this.record(event, room, messageId, { subject: subject, references }, relation.threadRoot ?? null);
    try {
      await this.deps.transport.send(returnPath, to, raw);
      this.deps.counted('sent');
    } catch (err) {
      if (!(err instanceof DeliveryError)) throw err;
      if (err.permanent) {
        this.deps.counted('refused');
        await this.deps.feedback.markFailed(sent, err.message, `refused:${event.event_id}`);
        return;
      }
      await this.deps.queue.add(sent, returnPath, raw, err.message);
      this.deps.counted('queued');
    }
  }

  /** A redaction of a mail that went out: a short note in its thread. */
  async redacted(event: MatrixEvent, ectx: EventContext, room: MailRoom, redacts: string): Promise<void> {
    const original = await this.deps.ctx.messages.remoteFor(redacts);
    if (original === null || (await this.deps.ctx.store.get(`sent-by:${redacts}`)) !== event.sender) return;
    const synthetic: MatrixEvent = { ...event, content: { msgtype: 'm.text', body: '🗑 This message was deleted in Matrix; please disregard it.' } };
    await this.send(synthetic, { ...ectx, relation: { inReplyTo: redacts } }, room);
  }

  private async sender(event: MatrixEvent, room: MailRoom, fromBridge: boolean): Promise<{ name: string; address: string }> {
    const { ctx, addresses } = this.deps;
    const profile = await ctx.bot.getProfile(event.sender).catch(() => ({ displayName: undefined }));
    const name = profile.displayName ?? event.sender;
    if (room.kind === 'list' && room.listName !== null) {
      const ghost = fromBridge ? ctx.ghosts.remoteIdOf(event.sender) : null;
      return { name: `${ghost !== null ? (profile.displayName ?? ghost) : name} via ${room.listName}`, address: addresses.roomAddress(room.listName) };
    }
    if (room.key.receiver !== undefined && room.key.receiver !== event.sender) {
      throw new PermanentError(`only ${room.key.receiver} mails from this room; your message was not sent by email`);
    }
    const address = room.own ?? (await addresses.addressOf(event.sender));
    if (address === null) throw new PermanentError('you have no email address on this bridge; claim one in the admin room with !email address add <name>@<domain>');
    return { name, address };
  }

  private async recipients(room: MailRoom, roomId: string, sender: string): Promise<string[]> {
    if (room.kind !== 'list') return room.correspondent !== null ? [room.correspondent] : [];
    const { ctx } = this.deps;
    const members = await ctx.bot.joinedMembers(roomId);
    return Object.keys(members)
      .filter((u) => u !== sender)
      .map((u) => ctx.ghosts.remoteIdOf(u))
      .filter((a): a is string => a !== null && a.includes('@'));
  }

  private listHeaders(name: string, listAddress: string): Pick<OutgoingMail, 'headers' | 'replyTo'> {
    const domain = listAddress.slice(listAddress.lastIndexOf('@') + 1);
    return {
      replyTo: listAddress,
      headers: {
        'List-Id': `<${name}.${domain}>`,
        'List-Post': `<mailto:${listAddress}>`,
        'List-Unsubscribe': `<mailto:${listAddress.replace('@', '+unsubscribe@')}>`,
        Precedence: 'list',
      },
    };
  }

  private async headers(messageId: string): Promise<MailHeaders> {
    const json = await this.deps.ctx.store.get(`hdr:${messageId}`);
    return json !== null ? (JSON.parse(json) as MailHeaders) : { subject: '', references: [] };
  }

  private async record(event: MatrixEvent, room: MailRoom, messageId: string, headers: MailHeaders, threadRoot: string | null): Promise<void> {
    const { ctx } = this.deps;
    await ctx.messages.set({ ...room.key, messageId }, event.room_id, event.event_id);
    await this.deps.delivery.rememberHeaders(messageId, headers);
    await ctx.store.set(`sent-by:${event.event_id}`, event.sender, KEEP_SECONDS);
    if (threadRoot !== null) {
      await ctx.store.set(`root:${event.event_id}`, threadRoot);
      await ctx.store.set(`last:${threadRoot}`, messageId);
    } else {
      if (subjectIsNew(headers.subject, null)) await ctx.store.set(`subject:${event.event_id}`, headers.subject);
      await ctx.store.set(`last:${room.kind === 'dm' ? event.event_id : event.room_id}`, messageId);
    }
    if (room.kind === 'thread' && room.key.location.startsWith('thread:')) await ctx.store.set(`thread-root:${messageId}`, room.key.location.slice('thread:'.length));
    if (room.kind === 'list') await ctx.store.set(`last:${event.room_id}`, messageId);
  }
}

export { NETWORK };
