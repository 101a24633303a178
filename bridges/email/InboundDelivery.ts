// One parsed mail into one recipient's room: the portal (a DM from the correspondent's ghost, a room per
// thread, or a room with an address), the Matrix thread the mail belongs to (found through its
// In-Reply-To/References in the message map), the text, inline images and attachments. Every step is
// idempotent: a mail redone after a crash, or sent twice under one Message-ID, is posted once.
import { readFile } from 'node:fs/promises';
import { MatrixApiError, type BridgeContext, type FileContent, type PortalKey, type RelatesTo, type RemoteLocation } from 'patchbay-matrix/plugin';
import type { Recipient } from './AddressBook.js';
import type { EmailConfig } from './EmailConfig.js';
import { renderMail, subjectIsNew } from './InboundContent.js';
import type { MailPerson, ReadMail } from './MailReader.js';
import { verdictWarning, type SenderVerdict } from './SenderChecks.js';

export const NETWORK = 'email';
const DONE_SECONDS = 30 * 24 * 3600;

export type Delivered = 'delivered' | 'duplicate' | 'refused';

/** What the bridge keeps per mail it knows (inbound or sent), for threading replies either way. */
export interface MailHeaders {
  subject: string;
  references: string[];
}

export interface RoomSettings {
  posting: 'members' | 'anyone';
  strip_quotes: boolean | null;
}

export async function roomSettings(ctx: BridgeContext<EmailConfig>, roomId: string): Promise<RoomSettings> {
  const json = await ctx.store.get(`room-set:${roomId}`);
  return { posting: 'members', strip_quotes: null, ...(json !== null ? (JSON.parse(json) as Partial<RoomSettings>) : {}) };
}

export class InboundDelivery {
  constructor(private readonly ctx: BridgeContext<EmailConfig>) {}

  async deliver(mail: ReadMail, sender: MailPerson, target: Exclude<Recipient, { kind: 'bounce' }>, verdict: SenderVerdict | null, rawPath: string): Promise<Delivered> {
    const ctx = this.ctx;
    const who = target.kind === 'user' ? target.userId : `room:${target.roomId}`;
    const doneKey = `done:${mail.messageId}:${who}`;
    if ((await ctx.store.get(doneKey)) !== null) return 'duplicate';
    const ghost = { remoteId: sender.address, profile: { displayName: sender.name || sender.address } };

    let key: PortalKey;
    let roomId: string;
    let settings: RoomSettings = { posting: 'members', strip_quotes: null };
    if (target.kind === 'room') {
      roomId = target.roomId;
      key = { network: NETWORK, location: `room:${target.name}` };
      settings = await roomSettings(ctx, roomId);
      const intent = await ctx.ghosts.intent(ghost.remoteId, ghost.profile);
      const members = await ctx.bot.joinedMembers(roomId);
      if (target.unsubscribe) {
        if (intent.userId in members) await intent.leave(roomId, 'unsubscribed by mail');
        await ctx.store.set(doneKey, '1', DONE_SECONDS);
        return 'delivered';
      }
      if (!(intent.userId in members)) {
        if (settings.posting !== 'anyone') return 'refused';
        // Posting subscribes: the bot lets the ghost in (invite-only rooms), the ghost joins.
        await ctx.bot.invite(roomId, intent.userId).catch(() => undefined);
        await intent.ensureJoined(roomId);
      }
    } else if (ctx.config.conversations === 'per_thread') {
      const root = await this.threadOf(mail);
      key = { network: NETWORK, location: `thread:${root}`, receiver: target.userId };
      ({ roomId } = await ctx.portals.ensure(key, () => ({
        creator: ghost,
        name: mail.subject || `Mail from ${sender.name || sender.address}`,
        topic: `Email thread with ${sender.address}`,
        data: { kind: 'thread', correspondent: sender.address, own: target.address },
      })));
    } else {
      key = { network: NETWORK, location: sender.address, receiver: target.userId };
      ({ roomId } = await ctx.portals.ensure(key, () => ({
        creator: ghost,
        name: sender.name || sender.address,
        topic: `Email with ${sender.address}`,
        data: { kind: 'dm', correspondent: sender.address, own: target.address },
      })));
    }

    // The Matrix thread: the newest mail this one answers that is in the room.
    const parent = await this.parentEvent(key, mail);
    const root = parent === null ? null : ((await ctx.store.get(`root:${parent}`)) ?? parent);
    const threadSubject = root === null ? null : await ctx.store.get(`subject:${root}`);
    const inThread = ctx.config.conversations === 'per_correspondent' || target.kind === 'room';
    const relates: RelatesTo | undefined =
      parent === null || root === null ? undefined : inThread ? { rel_type: 'm.thread', event_id: root, is_falling_back: true, 'm.in_reply_to': { event_id: parent } } : { 'm.in_reply_to': { event_id: parent } };

    const inlineImages = new Map<string, string>();
    const intent = await ctx.ghosts.intent(ghost.remoteId, ghost.profile);
    const files: FileContent[] = [];
    const notes: string[] = [];
    if (ctx.config.content.attachments) {
      for (const a of mail.attachments) {
        let url: string;
        try {
          url = await intent.uploadMedia(await readFile(a.path), a.contentType, a.filename);
        } catch (err) {
          if (!MatrixApiError.is(err, 'M_TOO_LARGE')) throw err;
          notes.push(`(The attachment ${a.filename}, ${(a.size / 1048576).toFixed(1)} MB, is larger than the homeserver accepts and was left out.)`);
          continue;
        }
        const referenced = a.cid !== null && ctx.config.content.inline_images && (mail.html ?? '').includes(`cid:${a.cid}`);
        if (referenced && a.cid !== null) {
          inlineImages.set(a.cid, url);
          continue;
        }
        const msgtype = a.contentType.startsWith('image/') ? 'm.image' : a.contentType.startsWith('audio/') ? 'm.audio' : a.contentType.startsWith('video/') ? 'm.video' : 'm.file';
        const invite = a.calendarMethod !== null ? ` (calendar ${a.calendarMethod === 'CANCEL' ? 'cancellation' : a.calendarMethod === 'REPLY' ? 'reply' : 'invitation'})` : '';
        files.push({ msgtype, body: `${a.filename}${invite}`, filename: a.filename, url, info: { mimetype: a.contentType, size: a.size } });
      }
    }

    const warning = verdict !== null && verdict.failed && verdict.policy !== 'off' ? verdictWarning(verdict, sender.address) : null;
    const stripQuotes = settings.strip_quotes ?? ctx.config.content.strip_quotes;
    const { content, cut } = renderMail(mail, { stripQuotes, inlineImages, showSubject: subjectIsNew(mail.subject, threadSubject), warning, notes });
    if (mail.problems.length > 0) {
      // What could not be read stays readable by a mail program: the original message as a file.
      files.unshift({ msgtype: 'm.file', body: 'original.eml', filename: 'original.eml', url: await intent.uploadMedia(await readFile(rawPath), 'message/rfc822', 'original.eml'), info: { mimetype: 'message/rfc822' } });
    } else if (cut) {
      // The whole mail one click away: as a file beside the message.
      const whole = Buffer.from(mail.html ?? mail.text ?? '');
      const name = mail.html !== null ? 'mail.html' : 'mail.txt';
      if (whole.length > 0) files.unshift({ msgtype: 'm.file', body: name, filename: name, url: await intent.uploadMedia(whole, mail.html !== null ? 'text/html' : 'text/plain', name), info: { size: whole.length } });
    }
    const mailFacts = {
      message_id: mail.messageId,
      from: sender.address,
      subject: mail.subject,
      ...(verdict !== null && { auth: { spf: verdict.spf, dkim: verdict.dkim, dmarc: verdict.dmarc, arc: verdict.arc, failed: verdict.failed } }),
    };
    const eventId = await ctx.outbox.send({
      remoteId: `mail:${mail.messageId}`,
      roomId,
      senderRemoteId: ghost.remoteId,
      senderProfile: ghost.profile,
      type: 'm.room.message',
      content: { ...content, ...(relates && { 'm.relates_to': relates }), 'org.patchbay.email': mailFacts },
      ...(mail.date !== null && mail.date > 0 && mail.date < Date.now() + 86_400_000 && { timestamp: mail.date }),
      mapAs: { ...key, messageId: mail.messageId },
    });
    const threadRoot = root ?? eventId;
    if (root !== null) await ctx.store.set(`root:${eventId}`, root);
    else await ctx.store.set(`subject:${eventId}`, mail.subject);
    await this.rememberHeaders(mail.messageId, { subject: mail.subject, references: [...mail.references, ...(mail.inReplyTo !== null && !mail.references.includes(mail.inReplyTo) ? [mail.inReplyTo] : [])] });
    await ctx.store.set(`last:${inThread ? threadRoot : roomId}`, mail.messageId);
    const fileRelates: RelatesTo | undefined = inThread ? { rel_type: 'm.thread', event_id: threadRoot, is_falling_back: true, 'm.in_reply_to': { event_id: eventId } } : undefined;
    for (const [n, file] of files.entries()) {
      await ctx.outbox.enqueue({
        remoteId: `mail:${mail.messageId}:file:${n}`,
        roomId,
        senderRemoteId: ghost.remoteId,
        type: 'm.room.message',
        content: { ...file, ...(fileRelates && { 'm.relates_to': fileRelates }) },
      });
    }
    await ctx.store.set(doneKey, '1', DONE_SECONDS);
    return 'delivered';
  }

  async rememberHeaders(messageId: string, headers: MailHeaders): Promise<void> {
    await this.ctx.store.set(`hdr:${messageId}`, JSON.stringify(headers), DONE_SECONDS * 3);
  }

  /** The Matrix event of the newest mail this one refers to, in the same conversation. */
  private async parentEvent(key: RemoteLocation, mail: ReadMail): Promise<string | null> {
    const refs = [...(mail.inReplyTo !== null ? [mail.inReplyTo] : []), ...[...mail.references].reverse()];
    for (const ref of refs.slice(0, 30)) {
      const found = await this.ctx.messages.eventFor({ ...key, messageId: ref });
      if (found !== null) return found.eventId;
    }
    return null;
  }

  /** per_thread: the root Message-ID of the thread a mail belongs to (a known reference's root, else its first reference, else itself). */
  private async threadOf(mail: ReadMail): Promise<string> {
    const refs = [...mail.references, ...(mail.inReplyTo !== null ? [mail.inReplyTo] : [])];
    let root: string | null = null;
    for (const ref of refs) {
      root = await this.ctx.store.get(`thread-root:${ref}`);
      if (root !== null) break;
    }
    root ??= refs[0] ?? mail.messageId;
    await this.ctx.store.set(`thread-root:${mail.messageId}`, root, DONE_SECONDS * 3);
    return root;
  }
}
