// The email bridge: every outside address a Matrix ghost (`alice@example.org` -> `@email_alice=40example.org`),
// conversations as rooms, email threads as Matrix threads, an SMTP server of its own for the bridged
// domains, and mail out through a relay or direct to MX. Wires the parts; each lives in its own file.
import { join } from 'node:path';
import type {
  AttachmentHandler,
  BridgeContext,
  BridgeDescriptor,
  BridgePlugin,
  EventContext,
  MatrixEvent,
  MediaContent,
  ThirdPartyHandler,
  ThirdPartyLocation,
  ThirdPartyProtocol,
  ThirdPartyUser,
  UserQueryHandler,
} from 'patchbay-matrix/plugin';
import { AddressBook } from './AddressBook.js';
import { AdminCommands, EMAIL_HELP } from './AdminCommands.js';
import { DeliveryFeedback } from './DeliveryFeedback.js';
import { emailConfigSchema, type EmailConfig } from './EmailConfig.js';
import { InboundDelivery, NETWORK } from './InboundDelivery.js';
import { InboundProcessor } from './InboundProcessor.js';
import { parseAddress } from './MailAddress.js';
import { MailSigner } from './MailSigner.js';
import { MailSpool } from './MailSpool.js';
import { MailTransport, type MxResolver } from './MailTransport.js';
import { MatrixToMail, type MailRoom } from './MatrixToMail.js';
import { OutboundQueue } from './OutboundQueue.js';
import { SenderChecks, type DnsResolver } from './SenderChecks.js';
import { RecipientCheck } from './RecipientCheck.js';
import { SmtpThread } from './SmtpThread.js';

export const emailDescriptor: BridgeDescriptor = { protocol: 'email', ghostPrefix: 'email_', aliasPrefix: 'email_', configSchema: emailConfigSchema };

/** The bridge's own ghost, `@email_bridge:<server>`: a DM with it is a user's admin room. */
const CONTROL = 'bridge';

/** What tests (and embedders) may swap: DNS for sender checks and for MX lookups. */
export interface EmailBridgeOptions {
  dnsResolver?: DnsResolver;
  mxResolver?: MxResolver;
}

interface Running {
  ctx: BridgeContext<EmailConfig>;
  addresses: AddressBook;
  admin: AdminCommands;
  toMail: MatrixToMail;
  transport: MailTransport;
  queue: OutboundQueue;
  listener: SmtpThread | null;
  processor: InboundProcessor | null;
}

export class EmailBridge implements BridgePlugin<EmailConfig>, UserQueryHandler, ThirdPartyHandler, AttachmentHandler {
  readonly descriptor = emailDescriptor;
  private running: Running | null = null;

  constructor(private readonly options: EmailBridgeOptions = {}) {}

  private get r(): Running {
    if (this.running === null) throw new Error('the email bridge is not started');
    return this.running;
  }

  /** The SMTP port it listens on (for tests that ask for port 0). */
  get smtpPort(): number {
    return this.running?.listener?.port ?? 0;
  }

  async start(ctx: BridgeContext<EmailConfig>): Promise<void> {
    const config = ctx.config;
    const hostname = config.hostname ?? config.domains[0]!;
    const mails = ctx.metrics.counter({ name: 'patchbay_email_mails_total', help: 'Mails by direction (in, out) and outcome', labelNames: ['direction', 'outcome'] });
    const rejections = ctx.metrics.counter({ name: 'patchbay_email_smtp_rejections_total', help: 'SMTP transactions refused, by reason', labelNames: ['reason'] });
    const addresses = new AddressBook(ctx, emailDescriptor.ghostPrefix);
    await addresses.loadFixed();
    const feedback = new DeliveryFeedback(ctx);
    const delivery = new InboundDelivery(ctx);
    const transport = new MailTransport(config.outbound, hostname, ctx.status, ctx.logger, this.options.mxResolver);
    const queue = new OutboundQueue(ctx, transport, feedback, (outcome) => mails.inc({ direction: 'out', outcome }), ctx.logger);
    const signer = config.outbound.dkim !== null ? new MailSigner(config.outbound.dkim) : null;
    const toMail = new MatrixToMail({ ctx, addresses, transport, signer, queue, feedback, delivery, counted: (outcome) => mails.inc({ direction: 'out', outcome }) });
    const admin = new AdminCommands(ctx, addresses);
    this.running = { ctx, addresses, admin, toMail, transport, queue, listener: null, processor: null };
    ctx.metrics.gauge({ name: 'patchbay_email_outbound_queue_mails', help: 'Mails waiting for another delivery try', collect: async (g) => g.set(await queue.depth()) });
    ctx.metrics.gauge({ name: 'patchbay_email_spool_mails', help: 'Accepted mails not yet in Matrix (this process)', collect: (g) => g.set(this.running?.processor?.depth ?? 0) });
    await ctx.ghosts.intent(CONTROL, { displayName: 'Email bridge' });
    if (ctx.connectRemote === false) return;

    const spool = new MailSpool(join(ctx.dataDir, 'spool'));
    const checks = new SenderChecks(config.sender_checks, hostname, this.options.dnsResolver);
    const processor = new InboundProcessor({
      ctx, spool, addresses, checks, delivery, feedback,
      isBlocked: (sender, userId) => admin.isBlocked(sender, userId),
      counted: (outcome) => mails.inc({ direction: 'in', outcome }),
      logger: ctx.logger,
      concurrency: 4,
    });
    this.running.processor = processor;
    const listener = new SmtpThread({
      settings: config.smtp, hostname, spoolDir: spool.dir, checks,
      recipients: new RecipientCheck(addresses, (sender, userId) => admin.isBlocked(sender, userId), ctx.logger),
      accepted: (id) => {
        mails.inc({ direction: 'in', outcome: 'accepted' });
        processor.add(id);
      },
      prepare: async () => {
        await spool.open();
        await processor.start();
      },
      rejected: (reason) => rejections.inc({ reason }),
      status: ctx.status,
      logger: ctx.logger,
    });
    this.running.listener = listener;
    await listener.start();
    await transport.verify();
    queue.start(Math.min(5_000, config.outbound.retry.initial_ms));
  }

  async stop(): Promise<void> {
    const r = this.running;
    if (r === null) return;
    await r.listener?.stop();
    await r.processor?.stop();
    await r.queue.stop();
    await r.transport.close();
    this.running = null;
  }

  async onMatrixEvent(event: MatrixEvent, ectx: EventContext): Promise<void> {
    const { ctx } = this.r;
    if (event.type === 'm.room.member' && event.content.membership === 'invite' && event.state_key !== undefined) {
      await this.onInvite(event);
      return;
    }
    if (event.type === 'm.room.redaction') {
      const redacts = (event.redacts ?? event.content.redacts) as string | undefined;
      const room = await this.mailRoom(event.room_id);
      if (room !== null && redacts !== undefined && !ectx.fromBridge) await this.r.toMail.redacted(event, ectx, room, redacts);
      return;
    }
    if (event.type !== 'm.room.message' || typeof event.content.body !== 'string') return;
    const body = event.content.body;
    if (ectx.fromBridge) {
      // A mail posted into a room with an address goes on to the room's other email members, as a list does.
      const sender = ctx.ghosts.remoteIdOf(event.sender);
      const room = sender !== null && sender.includes('@') && event.content.msgtype === 'm.text' ? await this.mailRoom(event.room_id) : null;
      if (room?.kind === 'list') await this.r.toMail.send(event, ectx, room);
      return;
    }
    if (body.startsWith('!email')) {
      await ctx.notice(event.room_id, await this.r.admin.run(body, event.sender, event.room_id));
      return;
    }
    if ((await ctx.store.get(`admin:${event.room_id}`)) !== null) {
      await ctx.notice(event.room_id, EMAIL_HELP);
      return;
    }
    const room = await this.mailRoom(event.room_id);
    if (room !== null && event.content.msgtype !== 'm.notice') await this.r.toMail.send(event, ectx, room);
  }

  async onAttachment(event: MatrixEvent, media: MediaContent, ectx: EventContext): Promise<void> {
    const room = await this.mailRoom(event.room_id);
    if (room !== null) await this.r.toMail.send(event, ectx, room, media);
  }

  async onUserQuery(userId: string): Promise<boolean> {
    const { ctx, addresses } = this.r;
    const remote = ctx.ghosts.remoteIdOf(userId);
    if (remote === CONTROL) return true;
    const a = remote === null ? null : parseAddress(remote);
    if (a === null || a.address !== remote || addresses.isLocalDomain(a.domain)) return false;
    await ctx.ghosts.intent(a.address, { displayName: a.address });
    return true;
  }

  thirdPartyProtocol(): ThirdPartyProtocol {
    return {
      user_fields: ['address'],
      location_fields: ['address'],
      icon: '',
      field_types: { address: { regexp: '^[^@\\s]+@[^@\\s]+$', placeholder: 'alice@example.org' } },
      instances: [{ desc: 'Email', fields: {}, network_id: NETWORK }],
    };
  }

  async lookupThirdPartyUser(fields: Record<string, string>): Promise<ThirdPartyUser[]> {
    const { ctx, addresses } = this.r;
    const a = parseAddress(fields.address ?? '');
    if (a === null) return [];
    if (addresses.isLocalDomain(a.domain)) {
      const target = await addresses.resolve(a.address);
      return target?.kind === 'user' ? [{ userid: target.userId, protocol: 'email', fields: { address: a.address } }] : [];
    }
    return [{ userid: ctx.ghosts.userIdFor(a.address), protocol: 'email', fields: { address: a.address } }];
  }

  async lookupThirdPartyLocation(fields: Record<string, string>): Promise<ThirdPartyLocation[]> {
    const { ctx, addresses } = this.r;
    const target = await addresses.resolve(fields.address ?? '');
    if (target?.kind !== 'room') return [];
    const alias = (await ctx.bot.getStateEvent(target.roomId, 'm.room.canonical_alias', ''))?.alias;
    return typeof alias === 'string' ? [{ alias, protocol: 'email', fields: { address: target.address } }] : [];
  }

  async thirdPartyUsersOf(userId: string): Promise<ThirdPartyUser[]> {
    const { ctx, addresses } = this.r;
    const remote = ctx.ghosts.remoteIdOf(userId);
    const list = remote !== null ? (remote.includes('@') ? [remote] : []) : await addresses.addressesOf(userId);
    return list.map((address) => ({ userid: userId, protocol: 'email', fields: { address } }));
  }

  /** The email side of a room: a portal (DM or thread) or a room with an address; null for any other room. */
  private async mailRoom(roomId: string): Promise<MailRoom | null> {
    const { ctx } = this.r;
    const link = (await ctx.links.remotesFor(roomId)).find((l) => l.network === NETWORK);
    if (link === undefined) return null;
    const { network, location, receiver, data } = link;
    const key = { network, location, ...(receiver !== undefined && { receiver }) };
    if (location.startsWith('room:')) return { key, kind: 'list', correspondent: null, own: null, listName: location.slice('room:'.length) };
    return { key, kind: data.kind === 'thread' ? 'thread' : 'dm', correspondent: data.correspondent ?? null, own: data.own || null, listName: null };
  }

  /** An invite of the bot or one of the ghosts: accept; a DM with a correspondent's ghost becomes that conversation's room. */
  private async onInvite(event: MatrixEvent): Promise<void> {
    const { ctx, addresses } = this.r;
    const invitee = event.state_key!;
    if (invitee === ctx.bot.userId) {
      await ctx.bot.join(event.room_id);
      return;
    }
    const remote = ctx.ghosts.remoteIdOf(invitee);
    if (remote === null) return;
    const ghost = await ctx.ghosts.intent(remote);
    await ghost.join(event.room_id);
    if (remote === CONTROL) {
      if (await ctx.store.setIfAbsent(`admin:${event.room_id}`, event.sender)) await ctx.notice(event.room_id, EMAIL_HELP);
      return;
    }
    if ((await this.mailRoom(event.room_id)) !== null) return;
    if (event.content.is_direct === true) {
      const own = (await addresses.addressOf(event.sender)) ?? '';
      await ctx.links.link(event.room_id, { network: NETWORK, location: remote, receiver: event.sender }, { kind: 'dm', correspondent: remote, own });
      return;
    }
    await ctx.notice(event.room_id, `${remote} gets this room's messages by mail once the room has an address: !email room address <name>`);
  }
}
