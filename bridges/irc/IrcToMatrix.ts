// The Matrix side of IRC happenings (the IrcNetworkSink): ghosts post what IRC users say through the
// outbox (durable, ordered per room, deduplicated), follow joins, parts, quits, kicks, nick changes and
// topics, and PMs to a Matrix user's puppet arrive in a DM with the sender's ghost.
import type { BridgeContext, GhostProfile, TextContent } from 'patchbay-matrix/plugin';
import type { IrcPluginConfig } from './IrcConfig.js';
import type { IrcBridgeState } from './IrcBridgeState.js';
import type { IrcNetwork, IrcNetworkSink, IrcPerson } from './IrcNetwork.js';
import { escapeHtml, mircToMatrix } from './MircToHtml.js';
import type { RecentMessages } from './RecentMessages.js';

export interface IrcToMatrixDeps {
  ctx: () => BridgeContext<IrcPluginConfig>;
  state: IrcBridgeState;
  network: (id: string) => IrcNetwork | undefined;
  recent: RecentMessages;
  /** Posts a visible notice in a room (from the bot, or a member ghost where the bot is absent). */
  tell: (roomId: string, text: string) => Promise<void>;
  /** Counts a relayed message. */
  counted: (network: string, direction: 'to_matrix' | 'to_irc') => void;
  /** A Matrix user's line came back from IRC with its msgid: the bridge maps it to the event. */
  sent: IrcNetworkSink['sent'];
}

const MSGTYPE = { privmsg: 'm.text', action: 'm.emote', notice: 'm.notice' } as const;
const NICK_CHARS = 'A-Za-z0-9\\[\\]\\\\`_^{|}\\-';

let sequence = 0;
const bootId = Date.now().toString(36);

export class IrcToMatrix implements IrcNetworkSink {
  /** Ghosts whose display name was set in this process (the nick is sent once, not with every message). */
  private readonly profiled = new Set<string>();
  private readonly memberSyncs = new Map<string, Promise<void>>();

  constructor(private readonly deps: IrcToMatrixDeps) {}

  private get ctx(): BridgeContext<IrcPluginConfig> {
    return this.deps.ctx();
  }

  private roomFor(network: string, channel: string): string | undefined {
    const net = this.deps.network(network);
    return net === undefined ? undefined : this.deps.state.roomForChannel(network, net.fold(channel));
  }

  private profileOnce(who: IrcPerson): GhostProfile | undefined {
    const key = `${who.ghost}|${who.nick}`;
    if (this.profiled.has(key)) return undefined;
    this.profiled.add(key);
    return { displayName: who.nick };
  }

  /** Pills for Matrix users whose puppet nicks appear in the text as whole words (one map lookup per word). */
  private mentions(network: IrcNetwork, body: string, html: string | null): { html: string | null; userIds: string[] } {
    const found = new Map<string, string>();
    for (const word of body.split(new RegExp(`[^${NICK_CHARS}]+`))) {
      if (word === '') continue;
      const owner = network.puppets.ownerOf(word);
      if (owner !== undefined) found.set(word, owner);
    }
    if (found.size === 0) return { html, userIds: [] };
    let out = html ?? escapeHtml(body);
    for (const [nick, userId] of found) {
      const re = new RegExp(`(?<![${NICK_CHARS}])${nick.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![${NICK_CHARS}])`, 'g');
      // Only in the text parts of the HTML, never inside a tag.
      out = out.replace(/(^|>)([^<]*)/g, (_m, open: string, text: string) =>
        open + text.replace(re, (match) => `<a href="https://matrix.to/#/${encodeURIComponent(userId)}">${match}</a>`),
      );
    }
    return { html: out, userIds: [...new Set(found.values())] };
  }

  async message(e: Parameters<IrcNetworkSink['message']>[0]): Promise<void> {
    const network = this.deps.network(e.network);
    if (network === undefined) return;
    let roomId: string | undefined;
    if (e.channel !== null) roomId = this.roomFor(e.network, e.channel);
    else if (e.toUserId !== null) roomId = await this.pmRoom(e.network, e.toUserId, e.from);
    if (roomId === undefined) return;
    const { body, html } = mircToMatrix(e.text);
    if (body.trim() === '') return;
    const m = this.mentions(network, body, html);
    const content: TextContent = {
      msgtype: MSGTYPE[e.kind],
      body,
      ...(m.html !== null ? { format: 'org.matrix.custom.html', formatted_body: m.html } : {}),
      'm.mentions': m.userIds.length > 0 ? { user_ids: m.userIds } : {},
    };
    const messageId = e.msgid ?? `${e.time}-${bootId}-${++sequence}`;
    const location = e.channel !== null ? network.fold(e.channel) : `pm/${e.toUserId}/${e.from.ghost}`;
    this.deps.recent.set(`${e.network}/${location}/${messageId}`, { nick: e.from.nick, text: body });
    await this.ctx.outbox.enqueue({
      remoteId: `${e.network}/${location}/${messageId}`,
      roomId,
      senderRemoteId: e.from.ghost,
      senderProfile: this.profileOnce(e.from),
      type: 'm.room.message',
      content,
      timestamp: e.time,
      mapAs: { network: e.network, location, messageId },
    });
    this.deps.counted(e.network, 'to_matrix');
  }

  /** The DM room between a Matrix user and an IRC nick's ghost, created (ghost invites the user) if needed. */
  async pmRoom(network: string, userId: string, from: IrcPerson): Promise<string> {
    const existing = this.deps.state.pmRoom(network, userId, from.ghost);
    if (existing !== undefined) return existing;
    const ghost = await this.ctx.ghosts.intent(from.ghost, { displayName: from.nick });
    const roomId = await ghost.createRoom({
      is_direct: true,
      preset: 'trusted_private_chat',
      invite: [userId],
      name: `${from.nick} (IRC ${network})`,
    });
    await this.deps.state.setRoom(roomId, { kind: 'pm', network, userId, ghost: from.ghost });
    return roomId;
  }

  async joined(e: Parameters<IrcNetworkSink['joined']>[0]): Promise<void> {
    const roomId = this.roomFor(e.network, e.channel);
    if (roomId === undefined) return;
    const ghost = await this.ctx.ghosts.intent(e.who.ghost, { displayName: e.who.nick });
    await ghost.ensureJoined(roomId);
  }

  async left(e: Parameters<IrcNetworkSink['left']>[0]): Promise<void> {
    const roomId = this.roomFor(e.network, e.channel);
    if (roomId === undefined) return;
    const userId = this.ctx.ghosts.userIdFor(e.who.ghost);
    if (e.kickedBy !== null) {
      // A kick shows as one: by the bot (it holds power in portal rooms), naming the IRC kicker.
      try {
        await this.ctx.bot.kick(roomId, userId, `Kicked on IRC by ${e.kickedBy.nick}: ${e.reason}`);
        return;
      } catch {
        // The bot may lack power in a plumbed room: the ghost leaves with the reason instead.
      }
    }
    const ghost = await this.ctx.ghosts.intent(e.who.ghost);
    await ghost.leave(roomId, e.kickedBy !== null ? `Kicked by ${e.kickedBy.nick}: ${e.reason}` : e.reason).catch(() => undefined);
  }

  /**
   * End of NAMES. Joining thousands of ghosts must not hold up the channel's messages (their senders are
   * joined on first post anyway), so the sync runs beside the message flow, one room at a time.
   */
  async members(e: Parameters<IrcNetworkSink['members']>[0]): Promise<void> {
    const roomId = this.roomFor(e.network, e.channel);
    if (roomId === undefined) return;
    const previous = this.memberSyncs.get(roomId) ?? Promise.resolve();
    const next = previous
      .then(() => this.syncMembers(e.network, roomId, e.members))
      .catch((err: unknown) => this.ctx.logger.warn({ err, room_id: roomId }, 'IRC member sync failed'));
    this.memberSyncs.set(roomId, next);
    void next.then(() => {
      if (this.memberSyncs.get(roomId) === next) this.memberSyncs.delete(roomId);
    });
  }

  private async syncMembers(network: string, roomId: string, members: IrcPerson[]): Promise<void> {
    const wanted = new Set(members.map((m) => this.ctx.ghosts.userIdFor(m.ghost)));
    for (const who of members) {
      const ghost = await this.ctx.ghosts.intent(who.ghost, this.profileOnce(who));
      await ghost.ensureJoined(roomId);
    }
    // Ghosts of people who left while the bridge was not looking (restart, netsplit) leave now.
    const joined = await this.ctx.bot.joinedMembers(roomId).catch(() => ({}) as Record<string, unknown>);
    for (const userId of Object.keys(joined)) {
      const remote = this.ctx.ghosts.remoteIdOf(userId);
      if (remote === null || !remote.startsWith(`${network}_`) || wanted.has(userId)) continue;
      const ghost = await this.ctx.ghosts.intent(remote);
      await ghost.leave(roomId, 'Not in the IRC channel any more').catch(() => undefined);
    }
  }

  async nickChanged(e: Parameters<IrcNetworkSink['nickChanged']>[0]): Promise<void> {
    const ghost = await this.ctx.ghosts.intent(e.who.ghost);
    await ghost.setProfile({ displayName: e.who.nick });
    this.profiled.add(`${e.who.ghost}|${e.who.nick}`);
  }

  async topic(e: Parameters<IrcNetworkSink['topic']>[0]): Promise<void> {
    const roomId = this.roomFor(e.network, e.channel);
    if (roomId === undefined) return;
    const { body } = mircToMatrix(e.topic);
    const current = await this.ctx.bot.getStateEvent(roomId, 'm.room.topic', '').catch(() => null);
    if (current !== null && current.topic === body) return;
    const intent = e.by !== null ? await this.ctx.ghosts.intent(e.by.ghost, { displayName: e.by.nick }) : this.ctx.bot;
    try {
      await intent.sendState(roomId, 'm.room.topic', '', { topic: body });
    } catch {
      // A ghost may lack the power to change the topic; the bot says it instead.
      if (intent !== this.ctx.bot) await this.ctx.bot.sendState(roomId, 'm.room.topic', '', { topic: body });
    }
  }

  async puppetKicked(e: Parameters<IrcNetworkSink['puppetKicked']>[0]): Promise<void> {
    const roomId = this.roomFor(e.network, e.channel);
    if (roomId === undefined) return;
    const by = e.by !== null ? e.by.nick : 'the server';
    await this.deps.tell(roomId, `${e.userId} was kicked from ${e.channel} on IRC by ${by} (${e.reason}). Messages are not reaching IRC; the next one will try to rejoin.`);
  }

  async botLostChannel(e: Parameters<IrcNetworkSink['botLostChannel']>[0]): Promise<void> {
    const roomId = this.roomFor(e.network, e.channel);
    if (roomId === undefined) return;
    await this.deps.tell(roomId, `The bridge left ${e.channel} (${e.reason}): IRC messages will not appear here until it rejoins.`);
  }

  sent(e: Parameters<IrcNetworkSink['sent']>[0]): Promise<void> {
    return this.deps.sent(e);
  }

  /** A REDACT from IRC: the mapped Matrix event is redacted, by the redactor's ghost or else the bot. */
  async redacted(e: Parameters<IrcNetworkSink['redacted']>[0]): Promise<void> {
    const network = this.deps.network(e.network);
    if (network === undefined) return;
    const location = e.channel !== null ? network.fold(e.channel) : `pm/${e.toUserId}/${e.by.ghost}`;
    const mapped = await this.ctx.messages.eventFor({ network: e.network, location, messageId: e.msgid });
    if (mapped === null) {
      this.ctx.logger.debug({ irc_network: e.network, location, msgid: e.msgid }, 'IRC redaction of a message the bridge does not know');
      return;
    }
    const reason = e.reason !== '' ? `Redacted on IRC by ${e.by.nick}: ${e.reason}` : `Redacted on IRC by ${e.by.nick}`;
    try {
      const ghost = await this.ctx.ghosts.intent(e.by.ghost);
      await ghost.redact(mapped.roomId, mapped.eventId, reason);
    } catch (err) {
      // Someone else's message (an IRC operator's REDACT): the bot holds the power in portal rooms.
      this.ctx.logger.debug({ err, room_id: mapped.roomId, event_id: mapped.eventId }, 'the ghost could not redact; the bot tries');
      await this.ctx.bot.redact(mapped.roomId, mapped.eventId, reason);
    }
  }

  async puppetFailed(e: Parameters<IrcNetworkSink['puppetFailed']>[0]): Promise<void> {
    const roomId = this.deps.state.adminRoom(e.userId);
    this.ctx.logger.warn({ user_id: e.userId, irc_network: e.network, reason: e.reason }, 'puppet connection gave up');
    if (roomId !== undefined) await this.deps.tell(roomId, `Your connection to ${e.network} gave up: ${e.reason}. Use !reconnect to try again.`);
  }
}
