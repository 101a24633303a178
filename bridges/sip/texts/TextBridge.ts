// Texts: SIP MESSAGE <-> m.text in the same portal as that party's calls (SMS through a trunk). Inbound
// texts are answered 200 only once the outbox holds them; outbound ones leave in parts of at most
// texts.max_part_bytes, each once (a retry skips parts already delivered), and a refusal by the far end
// is shown as a notice replying to the message it concerns.
import { IgnoredEventError, RetryLaterError, type BridgeContext, type MatrixEvent } from 'patchbay-matrix/plugin';
import { Messager, UserAgent, type Message } from 'sip.js';
import type { SipLine } from '../lines/SipLine.js';
import type { NumberPlan } from '../numbers/NumberPlan.js';
import { dialUri, partyFromSip } from '../numbers/RemoteParty.js';
import type { Glob } from '../policy/Glob.js';
import type { InboundRoutes } from '../policy/InboundRoutes.js';
import type { OutboundPolicy } from '../policy/OutboundPolicy.js';
import type { PortalInfo, SipPortals } from '../portals/SipPortals.js';
import type { SipMetrics } from '../SipMetrics.js';
import { readMessageBody } from './MessageBody.js';
import { splitText } from './TextSplitter.js';

export interface TextDeps {
  ctx: BridgeContext<unknown>;
  plan: NumberPlan;
  portals: SipPortals;
  routes: InboundRoutes;
  policy: OutboundPolicy;
  blocked: Glob;
  metrics: SipMetrics;
  enabled: boolean;
  maxPartBytes: number;
  line(id: string): SipLine | undefined;
  /** The caller id a user's calls and texts carry on a line. */
  fromUri(line: SipLine, userId: string): Promise<string | null>;
}

const SEND_TIMEOUT_MS = 35_000;
const SENT_TTL_SECONDS = 7 * 86400;
const TEXT_TYPES = new Set(['m.text', 'm.notice', 'm.emote']);

export class TextBridge {
  constructor(private readonly deps: TextDeps) {}

  // ---- SIP -> Matrix ---------------------------------------------------------------------------------

  async fromSip(line: SipLine, message: Message): Promise<void> {
    const { ctx, metrics } = this.deps;
    const req = message.request;
    const refuse = (statusCode: number, reasonPhrase: string, reason?: Parameters<SipMetrics['refused']>[0]): Promise<void> => {
      if (reason) metrics.refused(reason);
      metrics.text('inbound', 'refused');
      ctx.logger.info({ line: line.id, status: statusCode, call_id: req.callId }, `text refused: ${reasonPhrase}`);
      return message.reject({ statusCode, reasonPhrase });
    };
    if (!this.deps.enabled) return refuse(405, 'Texts Not Bridged');
    const from = req.from.uri;
    const party = partyFromSip(this.deps.plan, from.user, from.host + (from.port ? `:${from.port}` : ''), req.from.displayName);
    if (!party) return refuse(400, 'Unreadable From', 'malformed');
    if (this.deps.blocked(party.id)) return refuse(403, 'Forbidden', 'blocked');
    const users = await this.deps.routes.usersFor(line.settings, req.to.uri.user ?? null);
    if (users.length === 0) return refuse(404, 'Not Found', 'no_route');
    const content = readMessageBody(req.getHeader('content-type'), req.body);
    if (!content) return refuse(415, 'Unsupported Media Type');
    try {
      const remoteId = `sip-text:${req.callId}:${req.cseq}`;
      const ghost = await this.deps.portals.ghost(party);
      for (const userId of users) {
        const roomId = await this.deps.portals.ensure(line.id, party, userId);
        if (await this.deps.portals.isEncrypted(roomId)) {
          metrics.refused('encrypted');
          continue;
        }
        if (content.text !== '') {
          await ctx.outbox.enqueue({ remoteId, roomId, senderRemoteId: party.id, senderProfile: { displayName: party.displayName }, type: 'm.room.message', content: { msgtype: 'm.text', body: content.text } });
        }
        for (const [i, file] of content.files.entries()) {
          const url = await ghost.uploadMedia(file.bytes, file.mimetype, file.filename);
          const msgtype = file.mimetype.startsWith('image/') ? 'm.image' : file.mimetype.startsWith('audio/') ? 'm.audio' : file.mimetype.startsWith('video/') ? 'm.video' : 'm.file';
          await ctx.outbox.enqueue({
            remoteId: `${remoteId}:file${i}`,
            roomId,
            senderRemoteId: party.id,
            type: 'm.room.message',
            content: { msgtype, body: file.filename, url, info: { mimetype: file.mimetype, size: file.bytes.length } },
          });
        }
      }
    } catch (err) {
      ctx.logger.warn({ err, line: line.id }, 'an inbound text could not be stored');
      metrics.text('inbound', 'failed');
      // 500: the sender tries again; nothing was acknowledged.
      return message.reject({ statusCode: 500, reasonPhrase: 'Try Again' });
    }
    metrics.text('inbound', 'delivered');
    await message.accept();
  }

  // ---- Matrix -> SIP ---------------------------------------------------------------------------------

  async fromMatrix(event: MatrixEvent, portal: PortalInfo): Promise<void> {
    const { ctx, metrics } = this.deps;
    const c = event.content;
    if (event.sender !== portal.receiver) throw new IgnoredEventError('only the portal\'s user texts the party');
    if (!this.deps.enabled) throw new IgnoredEventError('texts are not bridged (bridges.sip.texts.enabled)');
    if (typeof c.msgtype !== 'string' || !TEXT_TYPES.has(c.msgtype) || typeof c.body !== 'string') {
      await this.replyNotice(event, `⚠️ Only text can be sent to ${portal.party.displayName}.`);
      return;
    }
    const edit = (c['m.new_content'] as { body?: unknown } | undefined)?.body;
    const text = typeof edit === 'string' ? `Correction: ${edit}` : c.msgtype === 'm.emote' ? `* ${c.body}` : c.body;
    const line = this.deps.line(portal.lineId);
    const verdict = this.deps.policy.check(event.sender, portal.party, line?.settings.owner === event.sender);
    if (!verdict.ok) {
      metrics.refused('policy');
      metrics.text('outbound', 'refused');
      await this.replyNotice(event, `⚠️ Not sent: ${verdict.reason}.`);
      return;
    }
    if (!line?.isReady) throw new RetryLaterError(`the SIP line ${portal.lineId} is not connected`, { delayMs: 5_000 });
    const target = dialUri(this.deps.plan, portal.party, line.domain, line.settings.numberFormat);
    const fromUri = await this.deps.fromUri(line, event.sender);
    const parts = splitText(text, this.deps.maxPartBytes);
    for (const [i, part] of parts.entries()) {
      const key = `text-sent/${event.event_id}/${i}`;
      if ((await ctx.store.get(key)) !== null) continue;
      const failure = await this.send(line, target, part, fromUri);
      if (failure !== null) {
        metrics.text('outbound', 'failed');
        const which = parts.length > 1 ? ` (part ${i + 1} of ${parts.length})` : '';
        await this.replyNotice(event, `⚠️ Not delivered to ${portal.party.displayName}${which}: ${failure}.`);
        return;
      }
      await ctx.store.set(key, '1', SENT_TTL_SECONDS);
    }
    metrics.text('outbound', 'delivered');
  }

  /** Null when the far end took it, else what it said. */
  private send(line: SipLine, target: string, text: string, fromUri: string | null): Promise<string | null> {
    const uri = UserAgent.makeURI(target);
    if (!uri) return Promise.resolve(`${target} is not a SIP address`);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve('no answer from the far end'), SEND_TIMEOUT_MS);
      const done = (v: string | null): void => {
        clearTimeout(timer);
        resolve(v);
      };
      new Messager(line.ua, uri, text, 'text/plain;charset=utf-8', fromUri ? { params: { fromUri } } : {})
        .message({ requestDelegate: { onAccept: () => done(null), onReject: (res) => done(`${res.message.statusCode} ${res.message.reasonPhrase}`) } })
        .catch((err: unknown) => done(err instanceof Error ? err.message : String(err)));
    });
  }

  private async replyNotice(event: MatrixEvent, body: string): Promise<void> {
    await this.deps.ctx.outbox.enqueue({
      remoteId: `text-notice:${event.event_id}`,
      roomId: event.room_id,
      senderRemoteId: null,
      type: 'm.room.message',
      content: { msgtype: 'm.notice', body, 'm.relates_to': { 'm.in_reply_to': { event_id: event.event_id } } },
    });
  }
}
