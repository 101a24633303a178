// The IRC bridge plugin: networks from config, portal rooms by alias, puppets for Matrix users, ghosts
// for IRC users, PMs as DMs with ghosts, an admin room per user, and the `irc` third-party protocol.
// Matrix -> IRC messages are recorded in the plugin store until IRC has proven it read them, so neither
// an IRC outage nor a bridge restart loses one; anything that cannot be delivered is said in the room.
import type {
  AliasQueryHandler,
  BridgeContext,
  BridgeDescriptor,
  BridgePlugin,
  Counter,
  EventContext,
  MatrixEvent,
  RoomUpgrade,
  RoomUpgradeHandler,
  ThirdPartyHandler,
  ThirdPartyLocation,
  ThirdPartyProtocol,
  ThirdPartyUser,
  UserQueryHandler,
} from 'patchbay-matrix/plugin';
import { ADMIN_HELP, runAdminCommand } from './AdminCommands.js';
import { type IrcPluginConfig, ircConfigSchema, normalizeNetworks } from './IrcConfig.js';
import { deliveredKey, IrcBridgeState, type PendingMessage, type RoomRole } from './IrcBridgeState.js';
import type { GhostIdentityStore } from './GhostIdentities.js';
import { IrcNetwork } from './IrcNetwork.js';
import { NetworkHealth } from './NetworkHealth.js';
import { isValidChannelName } from './IrcTextSanitizer.js';
import { IrcToMatrix } from './IrcToMatrix.js';
import { contentToIrc, editCorrection, type OutgoingText, shorten } from './MatrixToIrc.js';
import { parsePortalAlias, portalAlias, portalAllowed } from './PortalAlias.js';
import { portalRoomOptions } from './PortalRoomOptions.js';
import { IRC_PROVISIONING_PREFIX, mountIrcProvisioning } from './IrcProvisioning.js';
import { isValidNick } from './PuppetNickPolicy.js';
import { RecentMessages } from './RecentMessages.js';

/** Remote id of the bridge's own control user (`@irc_bridge:server`): invite it for an admin room. */
export const CONTROL_REMOTE_ID = 'bridge';

const MEDIA = new Set(['m.image', 'm.file', 'm.audio', 'm.video', 'm.sticker']);
const DELAY_NOTICE_EVERY_MS = 120_000;
/** How long a delivered Matrix message is remembered, so a redelivery of its event is not sent again. */
const DELIVERED_TTL_SECONDS = 7 * 86400;
/** How long a message's IRC msgids are kept for a later redaction. */
const REDACTABLE_TTL_SECONDS = 7 * 86400;

/** What the IRC bridge declares: ghosts `@irc_<network>_<nick>`, portals `#irc_<network>_<channel>`. */
export const ircDescriptor: BridgeDescriptor = { protocol: 'irc', networkName: 'IRC', ghostPrefix: 'irc_', aliasPrefix: 'irc_', configSchema: ircConfigSchema, httpPrefixes: [IRC_PROVISIONING_PREFIX] };

/** An IRC account keeps its ghost this long after it was last seen (refreshed once per bridge run). */
const ACCOUNT_TTL_SECONDS = 180 * 86400;

type ChannelRole = Extract<RoomRole, { kind: 'channel' }>;

export class IrcBridge implements BridgePlugin<IrcPluginConfig>, UserQueryHandler, AliasQueryHandler, ThirdPartyHandler, RoomUpgradeHandler {
  readonly descriptor: BridgeDescriptor = ircDescriptor;
  private context: BridgeContext<IrcPluginConfig> | null = null;
  private readonly networks = new Map<string, IrcNetwork>();
  private stateValue: IrcBridgeState | null = null;
  private readonly recent = new RecentMessages();
  private readonly handled = new RecentMessages(20_000);
  /** Matrix messages on their way to IRC, by event id, until their echo (with msgid) comes back. */
  private readonly awaitingEcho = new RecentMessages<{ roomId: string; location: string; target: string; userId: string; msgids: string[] }>(5000);
  private readonly userChains = new Map<string, Promise<void>>();
  private readonly displayNames = new Map<string, string | null>();
  private readonly delayNoticed = new Map<string, number>();
  private readonly deliveries = new Set<Promise<void>>();
  private stopping = false;
  private messagesTotal: Counter<'network' | 'direction'> | null = null;
  private undeliveredTotal: Counter<'network'> | null = null;

  private get ctx(): BridgeContext<IrcPluginConfig> {
    if (this.context === null) throw new Error('the IRC bridge is not started');
    return this.context;
  }

  private get state(): IrcBridgeState {
    if (this.stateValue === null) throw new Error('the IRC bridge is not started');
    return this.stateValue;
  }

  /** The running networks (for tests, tools and the benchmark). */
  network(id: string): IrcNetwork | undefined {
    return this.networks.get(id);
  }

  // ---- lifecycle ------------------------------------------------------------------------------------

  async start(ctx: BridgeContext<IrcPluginConfig>): Promise<void> {
    this.context = ctx;
    this.stopping = false;
    this.setupMetrics(ctx);
    this.stateValue = new IrcBridgeState(ctx.store, ctx.links);
    const pending = await this.state.load();
    const sink = new IrcToMatrix({
      ctx: () => this.ctx,
      state: this.state,
      network: (id) => this.networks.get(id),
      recent: this.recent,
      tell: (roomId, text) => this.tell(roomId, text),
      counted: (network, direction) => this.messagesTotal?.inc({ network, direction }),
      sent: (e) => this.onSent(e),
    });
    const health = new NetworkHealth({
      status: ctx.status,
      store: ctx.store,
      logger: ctx.logger,
      adminRooms: () => this.state.adminRooms(),
      tell: (roomId, text) => this.tell(roomId, text),
      describe: (id) => {
        const s = this.networks.get(id)?.settings;
        return { name: s?.name ?? id, server: s === undefined ? '' : `${s.host}:${s.port}` };
      },
    });
    for (const settings of normalizeNetworks(ctx.config)) {
      const forget = (userId: string): void => {
        // Not on shutdown: those puppets are reconnected after the restart.
        if (!this.stopping) void this.state.setPuppetChannels(settings.id, userId, null).catch(() => undefined);
      };
      const network = new IrcNetwork(settings, sink, ctx.logger.child({ irc_network: settings.id }), forget, this.identityStore(settings.id));
      network.ghosts.restore(await this.storedMap(`ghost/${settings.id}/nick/`), await this.storedMap(`ghost/${settings.id}/account/`));
      network.onBotStatus = (status) => health.update(status);
      this.networks.set(settings.id, network);
    }
    for (const network of this.networks.values()) {
      for (const mapping of network.settings.mappings) await this.applyMapping(network, mapping);
      // Failures are reported (log, ctx.status, the admin rooms) as they happen; the rejection adds nothing.
      network.start().catch(() => undefined);
    }
    for (const { roomId, role } of this.state.channelRooms()) this.joinChannel(roomId, role);
    mountIrcProvisioning({ ctx, state: this.state, networks: this.networks, joinChannel: (roomId, role) => this.joinChannel(roomId, role) });
    for (const p of this.state.puppetsToRestore()) this.restorePuppet(p.network, p.userId, p.channels);
    for (const message of pending) await this.send(message);
    if (this.networks.size === 0) ctx.logger.warn('the IRC bridge is enabled but bridges.irc.networks is empty: nothing to bridge');
    ctx.logger.info({ networks: [...this.networks.keys()], resent: pending.length }, 'IRC bridge started');
  }

  /**
   * Ghost identities of one network in the plugin store (`ghost/<network>/nick/<nick>` and
   * `.../account/<account>`), written behind: a crash loses at most the last changes before it.
   */
  private identityStore(networkId: string): GhostIdentityStore {
    const key = (kind: string, name: string): string => `ghost/${networkId}/${kind}/${encodeURIComponent(name)}`;
    const failed = (err: unknown): void => this.context?.logger.warn({ err, irc_network: networkId }, 'could not persist a ghost identity');
    return {
      nick: (nick, ghostKey) => void (ghostKey === null ? this.ctx.store.delete(key('nick', nick)) : this.ctx.store.set(key('nick', nick), ghostKey)).catch(failed),
      account: (account, ghostKey) => void this.ctx.store.set(key('account', account), ghostKey, ACCOUNT_TTL_SECONDS).catch(failed),
    };
  }

  /** Entries under a store prefix as [decoded name, value]. */
  private async storedMap(prefix: string): Promise<Array<[string, string]>> {
    const out: Array<[string, string]> = [];
    for (const key of await this.ctx.store.keys(prefix)) {
      const value = await this.ctx.store.get(key);
      if (value === null) continue;
      try {
        out.push([decodeURIComponent(key.slice(prefix.length)), value]);
      } catch {
        // A key that is not ours to decode.
      }
    }
    return out;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.networks.values()].map((n) => n.stop()));
    await Promise.allSettled([...this.deliveries]);
    this.networks.clear();
  }

  private setupMetrics(ctx: BridgeContext<IrcPluginConfig>): void {
    this.messagesTotal = ctx.metrics.counter({ name: 'patchbay_irc_messages_total', help: 'Messages bridged, by IRC network and direction', labelNames: ['network', 'direction'] });
    this.undeliveredTotal = ctx.metrics.counter({ name: 'patchbay_irc_undelivered_total', help: 'Matrix messages that could not be delivered to IRC (a notice was posted)', labelNames: ['network'] });
    const networks = this.networks;
    ctx.metrics.gauge({
      name: 'patchbay_irc_connections',
      help: 'IRC connections (bot and puppets) by network and state',
      labelNames: ['network', 'state'],
      collect(gauge) {
        for (const n of networks.values()) {
          gauge.inc({ network: n.id, state: n.bot.state }, 1);
          for (const p of n.puppets.all()) gauge.inc({ network: n.id, state: p.connection.state }, 1);
        }
      },
    });
  }


  private async applyMapping(network: IrcNetwork, mapping: { channel: string; room: string; key?: string }): Promise<void> {
    try {
      const roomId = mapping.room.startsWith('#') ? await this.ctx.bot.resolveAlias(mapping.room) : mapping.room;
      if (roomId === null) throw new Error(`the alias ${mapping.room} does not exist`);
      await this.ctx.bot.join(roomId);
      const role: ChannelRole = { kind: 'channel', network: network.id, channel: network.fold(mapping.channel), key: mapping.key };
      await this.state.setRoom(roomId, role);
    } catch (err) {
      this.ctx.logger.error({ err, irc_network: network.id, channel: mapping.channel, room: mapping.room }, 'IRC mapping could not be set up');
    }
  }

  private joinChannel(roomId: string, role: ChannelRole): void {
    const network = this.networks.get(role.network);
    if (network === undefined) return;
    network.addChannel(role.channel, role.key).catch((err: unknown) => {
      if (this.stopping) return;
      void this.tell(roomId, `The bridge could not join ${role.channel} on ${role.network}: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  private restorePuppet(networkId: string, userId: string, channels: string[]): void {
    const network = this.networks.get(networkId);
    if (network === undefined) return;
    const fixed = this.state.fixedNick(networkId, userId);
    this.chain(`${networkId}|${userId}`, async () => {
      const puppet = await network.puppetFor(userId, await this.displayName(userId, null), fixed);
      for (const channel of channels) void puppet.connection.join(channel).catch(() => undefined);
    });
  }

  // ---- Matrix -> IRC --------------------------------------------------------------------------------

  /** A channel, PM or admin room was upgraded: the host moved its link; the bridge follows it here. */
  async onRoomUpgraded(upgrade: RoomUpgrade): Promise<void> {
    await this.state.moveRoom(upgrade.oldRoomId, upgrade.newRoomId);
  }

  async onMatrixEvent(event: MatrixEvent, ectx: EventContext): Promise<void> {
    if (ectx.fromBridge) return;
    const role = event.type === 'm.room.message' ? await this.state.roleFromLinks(event.room_id) : this.state.roleOf(event.room_id);
    switch (event.type) {
      case 'm.room.member':
        await this.onMember(event, role);
        return;
      case 'm.room.message':
        if (role === undefined) return;
        if (role.kind === 'admin') await this.onAdminMessage(event, role.userId);
        else await this.onMessage(event, role, ectx);
        return;
      case 'm.room.topic':
        if (role?.kind === 'channel') await this.onTopic(event, role);
        return;
      case 'm.room.redaction':
        if (role !== undefined && role.kind !== 'admin') await this.onRedaction(event, role);
        return;
      default:
        // Reactions and other events have no IRC equivalent; sending them as text would only be noise
        // (Heisenbridge #242).
        return;
    }
  }

  private async onMessage(event: MatrixEvent, role: RoomRole, ectx: EventContext): Promise<void> {
    if (this.handled.get(event.event_id) !== undefined) return;
    let network: IrcNetwork | undefined;
    let target: string;
    if (role.kind === 'channel') {
      network = this.networks.get(role.network);
      target = role.channel;
    } else if (role.kind === 'pm') {
      network = this.networks.get(role.network);
      if (event.sender !== role.userId) {
        await this.tell(event.room_id, `Only ${role.userId} talks to IRC from this room; your message was not sent.`);
        return;
      }
      target = network?.nickForGhost(role.ghost) ?? '';
    } else return;
    if (network === undefined || target === '') {
      await this.tell(event.room_id, 'This room belongs to an IRC network that is no longer configured; the message was not sent.');
      return;
    }
    const msgtype = event.content.msgtype;
    if (typeof msgtype === 'string' && MEDIA.has(msgtype)) {
      await this.tell(event.room_id, `Files are not bridged to IRC: "${shorten(String(event.content.body ?? 'file'), 60)}" was not sent.`);
      return;
    }
    const net = network;
    const mentionNick = (userId: string): string | null => {
      const remote = this.ctx.ghosts.remoteIdOf(userId);
      if (remote !== null) return net.nickForGhost(remote);
      return net.puppets.get(userId)?.connection.nick ?? null;
    };
    let outgoing: OutgoingText | null;
    const replaces = ectx.relation.replaces;
    if (replaces !== undefined) {
      const newContent = (event.content['m.new_content'] as Record<string, unknown> | undefined) ?? event.content;
      const composed = contentToIrc(newContent, { mentionNick });
      if (composed === null) return;
      const before = await this.said(event.room_id, role, network, replaces, mentionNick);
      const correction = editCorrection(before?.text ?? null, composed.text);
      if (correction === null) return;
      outgoing = { kind: composed.kind, text: correction.split('\n')[0] as string };
      this.recent.set(replaces, { nick: before?.nick ?? '', text: composed.text });
    } else {
      const replyTo = ectx.relation.inReplyTo !== undefined ? await this.said(event.room_id, role, network, ectx.relation.inReplyTo, mentionNick) : null;
      outgoing = contentToIrc(event.content, { mentionNick, replyTo });
    }
    if (outgoing === null || outgoing.text.trim() === '') return;
    const lines = outgoing.text.split('\n').filter((l) => l.trim() !== '');
    const max = network.settings.maxLinesPerMessage;
    if (lines.length > max) {
      outgoing = { ...outgoing, text: [...lines.slice(0, max - 1), `… (${lines.length - max + 1} more lines not sent)`].join('\n') };
      await this.tell(event.room_id, `Your message had ${lines.length} lines; IRC got the first ${max - 1} (limit ${max} per message).`);
    }
    // At-least-once delivery from the host: act once per event id, across restarts too. A message is
    // recorded (pending) before anything else, and marked delivered only once IRC has it, so a crash at
    // any point leaves one of the two and the message is neither lost nor sent twice by a redelivery.
    if ((await this.ctx.store.get(deliveredKey(event.event_id))) !== null || (await this.state.isPending(event.event_id))) return;
    this.handled.set(event.event_id, { nick: '', text: '' });
    try {
      await this.send({ eventId: event.event_id, network: network.id, userId: event.sender, roomId: event.room_id, target, text: outgoing.text, kind: outgoing.kind });
    } catch (err) {
      // Not recorded: let the host retry the event.
      this.handled.delete(event.event_id);
      throw err;
    }
  }

  /**
   * Who said a message and what IRC saw of it, for reply quotes and edit corrections: from memory when
   * this process relayed it, else from the homeserver (after a restart, or a message older than the cache).
   */
  private async said(
    roomId: string,
    role: RoomRole,
    network: IrcNetwork,
    eventId: string,
    mentionNick: (userId: string) => string | null,
  ): Promise<{ nick: string; text: string } | null> {
    const local = this.recent.get(eventId);
    if (local !== undefined && local.nick !== '') return local;
    const remote = await this.ctx.messages.remoteFor(eventId).catch(() => null);
    const relayed = remote !== null ? this.recent.get(`${remote.network}/${remote.location}/${remote.messageId}`) : undefined;
    if (relayed !== undefined) return relayed;
    // The bot is not in PM rooms: read as the ghost that is.
    const reader = role.kind === 'pm' ? await this.ctx.ghosts.intent(role.ghost).catch(() => null) : this.ctx.bot;
    const original = reader === null ? null : await reader.getEvent(roomId, eventId).catch((err: unknown) => {
      this.ctx.logger.debug({ err, room_id: roomId, event_id: eventId }, 'could not fetch the replied-to or edited event');
      return null;
    });
    if (original === null || original.type !== 'm.room.message') return null;
    const ghost = this.ctx.ghosts.remoteIdOf(original.sender);
    let nick: string | null;
    let text: string | null;
    if (ghost !== null) {
      // An IRC user's message: its body is what they said.
      nick = network.nickForGhost(ghost);
      text = typeof original.content.body === 'string' ? original.content.body : null;
    } else if (original.sender === this.ctx.bot.userId) {
      return null;
    } else {
      // A Matrix user's message: IRC saw it as their puppet's nick and the composed text.
      nick =
        network.puppets.get(original.sender)?.connection.nick ??
        network.puppets.wantedNick(original.sender, await this.displayName(original.sender, roomId), this.state.fixedNick(network.id, original.sender));
      text = contentToIrc(original.content, { mentionNick })?.text ?? null;
    }
    if (nick === null || text === null) return local ?? null;
    // An edit relayed by this process is newer than the original the homeserver has.
    const found = { nick, text: local?.text ?? text };
    this.recent.set(eventId, found);
    return found;
  }

  /** One of a Matrix message's lines came back with its msgid: remembered for redactions both ways. */
  private async onSent(e: { network: string; userId: string; ref: string; msgid: string }): Promise<void> {
    const out = this.awaitingEcho.get(e.ref);
    if (out === undefined || out.userId !== e.userId) return;
    out.msgids.push(e.msgid);
    await this.ctx.messages.set({ network: e.network, location: out.location, messageId: e.msgid }, out.roomId, e.ref);
    await this.ctx.store.set(`redactable/${e.ref}`, JSON.stringify({ network: e.network, target: out.target, userId: out.userId, msgids: out.msgids }), REDACTABLE_TTL_SECONDS);
  }

  /**
   * A Matrix user redacted their own message: where the server offers IRCv3 message-redaction and the
   * message's msgids are known (echo-message), its lines are REDACTed on IRC. Anywhere else IRC keeps
   * the message and nothing is said about it (there is no way to unsay a line on plain IRC).
   */
  private async onRedaction(event: MatrixEvent, role: RoomRole): Promise<void> {
    const redacts = typeof event.redacts === 'string' ? event.redacts : typeof event.content.redacts === 'string' ? event.content.redacts : null;
    if (redacts === null) return;
    const log = this.ctx.logger.child({ room_id: event.room_id, event_id: event.event_id, redacts });
    const json = await this.ctx.store.get(`redactable/${redacts}`);
    let record: { network?: unknown; target?: unknown; userId?: unknown; msgids?: unknown } = {};
    try {
      record = json !== null ? (JSON.parse(json) as typeof record) : {};
    } catch {
      // A damaged record: nothing to redact with.
    }
    const { network: networkId, target, userId, msgids } = record;
    if (typeof networkId !== 'string' || typeof target !== 'string' || !Array.isArray(msgids)) {
      log.debug('redaction not sent to IRC: no msgid known for the message (no echo-message, or not from this bridge)');
      return;
    }
    // Only the author takes a message back; a Matrix moderator's redaction stays on the Matrix side.
    if (userId !== event.sender || (role.kind === 'pm' && role.userId !== event.sender)) return;
    const puppet = this.networks.get(networkId)?.puppets.get(event.sender);
    if (puppet === undefined || !puppet.connection.canRedact) {
      log.debug({ irc_network: networkId }, 'redaction not sent to IRC: the server offers no message-redaction, or the puppet is not connected');
      return;
    }
    if (!(await this.ctx.store.setIfAbsent(`seen/${event.event_id}`, '1', 7 * 86400))) return;
    const reason = typeof event.content.reason === 'string' ? event.content.reason : undefined;
    for (const msgid of msgids) if (typeof msgid === 'string') puppet.connection.redact(target, msgid, reason);
  }

  /** Records, queues and tracks one message; resolves once it is recorded (delivery continues). */
  private async send(message: PendingMessage): Promise<void> {
    const network = this.networks.get(message.network);
    if (network === undefined) return;
    const pendingKey = await this.state.addPending(message);
    let ready!: (d: { delivery: Promise<void> }) => void;
    let notReady!: (e: unknown) => void;
    const prepared = new Promise<{ delivery: Promise<void> }>((resolve, reject) => {
      ready = resolve;
      notReady = reject;
    });
    this.chain(`${message.network}|${message.userId}`, async () => {
      try {
        const displayName = await this.displayName(message.userId, message.roomId);
        const fixed = this.state.fixedNick(network.id, message.userId);
        const isChannel = network.isChannelName(message.target);
        const puppet = await network.puppetFor(message.userId, displayName, fixed, isChannel ? message.target : undefined);
        puppet.lastActive = Date.now();
        if (isChannel) await this.state.setPuppetChannels(network.id, message.userId, puppet.connection.channels);
        // Wrapped: returning the promise itself would make the chain wait for delivery.
        const role = this.state.roleOf(message.roomId);
        const location = isChannel ? network.fold(message.target) : role?.kind === 'pm' ? `pm/${role.userId}/${role.ghost}` : null;
        if (location !== null) this.awaitingEcho.set(message.eventId, { roomId: message.roomId, location, target: message.target, userId: message.userId, msgids: [] });
        const delivery = puppet.connection.say(message.target, message.text, message.kind, message.eventId);
        this.recent.set(message.eventId, { nick: puppet.connection.nick, text: message.text });
        ready({ delivery });
      } catch (err) {
        notReady(err);
      }
    });
    const tracked = this.track(message, network, pendingKey, prepared);
    this.deliveries.add(tracked);
    void tracked.finally(() => this.deliveries.delete(tracked));
  }

  private async track(message: PendingMessage, network: IrcNetwork, pendingKey: string, prepared: Promise<{ delivery: Promise<void> }>): Promise<void> {
    const timer = setTimeout(() => void this.noticeDelay(message, network), network.settings.delayNoticeMs);
    timer.unref();
    let keep = false;
    try {
      const { delivery } = await prepared;
      await delivery;
      this.messagesTotal?.inc({ network: network.id, direction: 'to_irc' });
    } catch (err) {
      // Shutting down: the record stays, and the message is sent after the restart.
      if (this.stopping) {
        keep = true;
        return;
      }
      this.undeliveredTotal?.inc({ network: network.id });
      const reason = err instanceof Error ? err.message : String(err);
      this.ctx.logger.warn({ room_id: message.roomId, event_id: message.eventId, irc_network: network.id, reason }, 'message not delivered to IRC');
      await this.tell(message.roomId, `Not delivered to IRC (${message.target} on ${network.id}): ${reason}. Message: "${shorten(message.text.replace(/\s+/g, ' '), 80)}"`);
    } finally {
      clearTimeout(timer);
      if (!keep) {
        await this.ctx.store.set(deliveredKey(message.eventId), '1', DELIVERED_TTL_SECONDS).catch(() => undefined);
        await this.state.removePending(pendingKey).catch(() => undefined);
      }
    }
  }

  private async noticeDelay(message: PendingMessage, network: IrcNetwork): Promise<void> {
    if (this.stopping) return;
    const key = `${message.roomId}|${message.userId}`;
    const last = this.delayNoticed.get(key) ?? 0;
    if (Date.now() - last < DELAY_NOTICE_EVERY_MS) return;
    this.delayNoticed.set(key, Date.now());
    const state = network.puppets.get(message.userId)?.connection.state ?? 'idle';
    const why = state === 'backoff' ? `reconnecting to ${network.id}` : state === 'registered' ? 'waiting for the IRC server' : `connecting to ${network.id}`;
    await this.tell(message.roomId, `Your message to ${message.target} is not on IRC yet (${why}); it will be sent when the connection is back.`);
  }

  /** Runs tasks of one key (a user on a network) one after another, so their lines keep their order. */
  private chain(key: string, task: () => Promise<void>): void {
    const previous = this.userChains.get(key) ?? Promise.resolve();
    const next = previous.then(task).catch((err: unknown) => {
      this.context?.logger.debug({ err, key }, 'IRC user task failed');
    });
    this.userChains.set(key, next);
    void next.then(() => {
      if (this.userChains.get(key) === next) this.userChains.delete(key);
    });
  }

  private async displayName(userId: string, roomId: string | null): Promise<string | null> {
    const cached = this.displayNames.get(userId);
    if (cached !== undefined) return cached;
    let name: string | null = null;
    if (roomId !== null) {
      const member = await this.ctx.bot.getStateEvent(roomId, 'm.room.member', userId).catch(() => null);
      if (typeof member?.displayname === 'string') name = member.displayname;
    }
    if (name === null) {
      const profile = await this.ctx.bot.getProfile(userId).catch(() => null);
      name = profile?.displayName ?? null;
    }
    this.displayNames.set(userId, name);
    return name;
  }

  private async onTopic(event: MatrixEvent, role: ChannelRole): Promise<void> {
    const network = this.networks.get(role.network);
    if (network === undefined || typeof event.content.topic !== 'string') return;
    const topic = event.content.topic;
    this.chain(`${role.network}|${event.sender}`, async () => {
      try {
        const puppet = await network.puppetFor(event.sender, await this.displayName(event.sender, event.room_id), this.state.fixedNick(network.id, event.sender), role.channel);
        await puppet.connection.setTopic(role.channel, topic);
      } catch (err) {
        await this.tell(event.room_id, `The topic was not changed on IRC: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
  }

  private async onMember(event: MatrixEvent, role: RoomRole | undefined): Promise<void> {
    const target = event.state_key;
    if (typeof target !== 'string') return;
    const membership = event.content.membership;
    const remote = this.ctx.ghosts.remoteIdOf(target);
    if (remote !== null) {
      if (membership === 'invite') await this.onGhostInvite(event, remote);
      return;
    }
    if (role?.kind !== 'channel') return;
    const network = this.networks.get(role.network);
    const puppet = network?.puppets.get(target);
    if (membership === 'leave' || membership === 'ban') {
      if (puppet !== undefined && network !== undefined && puppet.connection.isJoined(role.channel)) {
        puppet.connection.part(role.channel, target === event.sender ? 'Left the Matrix room' : 'Removed from the Matrix room');
        await this.state.setPuppetChannels(network.id, target, puppet.connection.channels);
      }
      return;
    }
    if (membership === 'join' && target === event.sender) {
      const name = typeof event.content.displayname === 'string' ? event.content.displayname : null;
      const before = this.displayNames.get(target);
      this.displayNames.set(target, name);
      if (before === undefined || before === name || puppet === undefined || network === undefined || puppet.fixedNick !== null) return;
      const wanted = network.puppets.wantedNick(target, name, null);
      this.chain(`${network.id}|${target}`, async () => {
        await puppet.connection.changeNick(wanted).catch(() => undefined);
      });
    }
  }

  private async onGhostInvite(event: MatrixEvent, remote: string): Promise<void> {
    const inviter = event.sender;
    const existing = this.state.roleOf(event.room_id);
    if (existing !== undefined && !(existing.kind === 'admin' && remote === CONTROL_REMOTE_ID)) {
      // An invite into a room that is already a portal or DM does not change what the room is.
      if (existing.kind === 'channel') await (await this.ctx.ghosts.intent(remote)).join(event.room_id).catch(() => undefined);
      return;
    }
    if (remote === CONTROL_REMOTE_ID) {
      const control = await this.ctx.ghosts.intent(CONTROL_REMOTE_ID, { displayName: 'IRC bridge' });
      await control.join(event.room_id);
      await this.state.setRoom(event.room_id, { kind: 'admin', userId: inviter });
      await control.sendEvent(event.room_id, 'm.room.message', { msgtype: 'm.notice', body: ADMIN_HELP });
      return;
    }
    const sep = remote.indexOf('_');
    const network = sep > 0 ? this.networks.get(remote.slice(0, sep)) : undefined;
    const ghost = await this.ctx.ghosts.intent(remote);
    await ghost.join(event.room_id);
    if (network === undefined) {
      await ghost.sendEvent(event.room_id, 'm.room.message', { msgtype: 'm.notice', body: 'This IRC network is not configured on this bridge.' });
      await ghost.leave(event.room_id);
      return;
    }
    const nick = network.nickForGhost(remote) ?? remote.slice(sep + 1);
    await ghost.setProfile({ displayName: nick }).catch(() => undefined);
    await this.state.setRoom(event.room_id, { kind: 'pm', network: network.id, userId: inviter, ghost: remote });
  }

  private async onAdminMessage(event: MatrixEvent, owner: string): Promise<void> {
    const body = event.content.body;
    if (event.sender !== owner || typeof body !== 'string' || !body.trim().startsWith('!')) return;
    if (this.handled.get(event.event_id) !== undefined) return;
    this.handled.set(event.event_id, { nick: '', text: '' });
    const reply = await runAdminCommand(body, {
      userId: owner,
      networks: [...this.networks.values()],
      state: this.state,
      displayName: (userId) => this.displayName(userId, null),
      openPortal: async (network, channel, key, userId) => {
        const roomId = await this.ensurePortal(network, channel, key, null);
        await this.ctx.bot.invite(roomId, userId).catch(() => undefined);
        return portalAlias({ network: network.id, channel: network.fold(channel) }, this.descriptor.aliasPrefix, this.ctx.serverName);
      },
    });
    const control = await this.ctx.ghosts.intent(CONTROL_REMOTE_ID);
    await control.sendEvent(event.room_id, 'm.room.message', { msgtype: 'm.notice', body: reply });
  }

  /** The portal room of a channel, created (with `alias`, or the canonical one) and joined by the bot on IRC. */
  private async ensurePortal(network: IrcNetwork, channel: string, key: string | undefined, alias: string | null): Promise<string> {
    const folded = network.fold(channel);
    const existing = this.state.roomForChannel(network.id, folded);
    if (existing !== undefined) {
      if (alias !== null) await this.ctx.bot.createAlias(alias, existing).catch(() => undefined);
      return existing;
    }
    const wanted = alias ?? portalAlias({ network: network.id, channel: folded }, this.descriptor.aliasPrefix, this.ctx.serverName);
    const bot = this.ctx.bot.userId;
    const bridge = { bridgebot: bot, creator: bot, protocol: { id: this.descriptor.protocol, displayname: this.descriptor.networkName ?? this.descriptor.protocol }, network: network.id, networkName: network.settings.name, channel: folded };
    const roomId = await this.ctx.bot.createRoom(portalRoomOptions(wanted.slice(1, wanted.lastIndexOf(':')), `${channel} (${network.settings.name})`, bridge));
    const role: ChannelRole = { kind: 'channel', network: network.id, channel: folded, key };
    await this.state.setRoom(roomId, role);
    this.joinChannel(roomId, role);
    return roomId;
  }

  /** A visible notice; the host posts it from a member ghost where the bot is not in the room (PM and admin rooms). */
  private async tell(roomId: string, text: string): Promise<void> {
    try {
      await this.ctx.notice(roomId, text);
    } catch (err) {
      this.context?.logger.error({ err, room_id: roomId, notice: text }, 'could not post a notice');
    }
  }

  // ---- queries and third-party lookups -----------------------------------------------------------

  async onAliasQuery(alias: string): Promise<boolean> {
    const target = parsePortalAlias(alias, this.descriptor.aliasPrefix, this.ctx.serverName);
    if (target === null) return false;
    const network = this.networks.get(target.network);
    if (network === undefined || !network.settings.portals.enabled) return false;
    if (!portalAllowed(target.channel, network.settings.portals.allow, network.settings.portals.deny)) return false;
    await this.ensurePortal(network, target.channel, undefined, alias);
    return true;
  }

  async onUserQuery(userId: string): Promise<boolean> {
    const remote = this.ctx.ghosts.remoteIdOf(userId);
    if (remote === null) return false;
    if (remote === CONTROL_REMOTE_ID) {
      await this.ctx.ghosts.intent(CONTROL_REMOTE_ID, { displayName: 'IRC bridge' });
      return true;
    }
    const sep = remote.indexOf('_');
    const network = sep > 0 ? this.networks.get(remote.slice(0, sep)) : undefined;
    const key = remote.slice(sep + 1);
    if (network === undefined || !isValidNick(key.replace(/\.\d+$/, ''), 200)) return false;
    await this.ctx.ghosts.intent(remote, { displayName: network.nickForGhost(remote) ?? key });
    return true;
  }

  thirdPartyProtocol(): ThirdPartyProtocol {
    return {
      user_fields: ['network', 'nickname'],
      location_fields: ['network', 'channel'],
      icon: '',
      field_types: {
        network: { regexp: '[a-z0-9][a-z0-9-]*', placeholder: 'libera' },
        nickname: { regexp: '[A-Za-z\\[\\]\\\\`_^{|}][A-Za-z0-9\\[\\]\\\\`_^{|}-]*', placeholder: 'alice' },
        channel: { regexp: '[#&+!][^\\s,:]+', placeholder: '#matrix' },
      },
      instances: [...this.networks.values()].map((n) => ({ desc: n.settings.name, network_id: n.id, fields: { network: n.id } })),
    };
  }

  async lookupThirdPartyUser(fields: Record<string, string>): Promise<ThirdPartyUser[]> {
    const networks = fields.network !== undefined ? [this.networks.get(fields.network)].filter((n): n is IrcNetwork => n !== undefined) : [...this.networks.values()];
    const nick = fields.nickname;
    if (nick === undefined || !isValidNick(nick, 200)) return [];
    return networks.map((n) => {
      const owner = n.puppets.ownerOf(nick);
      const userid = owner ?? this.ctx.ghosts.userIdFor(`${n.id}_${n.ghosts.peek(nick) ?? n.fold(nick)}`);
      return { userid, protocol: 'irc', fields: { network: n.id, nickname: nick } };
    });
  }

  async thirdPartyUsersOf(userId: string): Promise<ThirdPartyUser[]> {
    const remote = this.ctx.ghosts.remoteIdOf(userId);
    if (remote !== null) {
      const sep = remote.indexOf('_');
      const network = sep > 0 ? this.networks.get(remote.slice(0, sep)) : undefined;
      if (network === undefined) return [];
      return [{ userid: userId, protocol: 'irc', fields: { network: network.id, nickname: network.nickForGhost(remote) ?? remote.slice(sep + 1) } }];
    }
    return [...this.networks.values()]
      .map((n) => ({ n, puppet: n.puppets.get(userId) }))
      .filter(({ puppet }) => puppet !== undefined && puppet.connection.state === 'registered')
      .map(({ n, puppet }) => ({ userid: userId, protocol: 'irc', fields: { network: n.id, nickname: puppet?.connection.nick ?? '' } }));
  }

  async thirdPartyLocationsOf(alias: string, roomId: string | null): Promise<ThirdPartyLocation[]> {
    const role = roomId !== null ? this.state.roleOf(roomId) : undefined;
    if (role?.kind === 'channel') return [{ alias, protocol: 'irc', fields: { network: role.network, channel: role.channel } }];
    const target = parsePortalAlias(alias, this.descriptor.aliasPrefix, this.ctx.serverName);
    if (target === null || !this.networks.has(target.network)) return [];
    return [{ alias, protocol: 'irc', fields: { network: target.network, channel: target.channel } }];
  }

  async lookupThirdPartyLocation(fields: Record<string, string>): Promise<ThirdPartyLocation[]> {
    const channel = fields.channel;
    if (channel === undefined || !isValidChannelName(channel, '#&+!')) return [];
    const networks = fields.network !== undefined ? [this.networks.get(fields.network)].filter((n): n is IrcNetwork => n !== undefined) : [...this.networks.values()];
    return networks
      .filter((n) => this.state.roomForChannel(n.id, n.fold(channel)) !== undefined || (n.settings.portals.enabled && portalAllowed(channel, n.settings.portals.allow, n.settings.portals.deny)))
      .map((n) => ({
        alias: portalAlias({ network: n.id, channel: n.fold(channel) }, this.descriptor.aliasPrefix, this.ctx.serverName),
        protocol: 'irc',
        fields: { network: n.id, channel },
      }));
  }
}
