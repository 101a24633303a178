// The example bridge: the template to copy when writing a Patchbay bridge plugin. It bridges to no real
// network; it shows each part of the plugin API in a few lines (README.md next to this file explains
// them). A bridge imports `patchbay-matrix/plugin` and nothing else of Patchbay.
import {
  IgnoredEventError,
  PermanentError,
  type AliasQueryHandler,
  type BridgeContext,
  type BridgeDescriptor,
  type BridgePlugin,
  type Counter,
  type EventContext,
  type MatrixEvent,
  type ThirdPartyHandler,
  type ThirdPartyLocation,
  type ThirdPartyProtocol,
  type ThirdPartyUser,
  type UserQueryHandler,
} from 'patchbay-matrix/plugin';
import { configSchema, type ExampleConfig } from './config.js';

/** The network this example pretends to bridge: the `network` of its places. */
const NETWORK = 'example';
/** Names of places and remote users: letters, digits and `. _ -`. */
const NAME = /^[A-Za-z0-9._-]+$/;

export const exampleDescriptor: BridgeDescriptor = { protocol: 'example', ghostPrefix: 'example_', aliasPrefix: 'example_', configSchema };

/** What the plugin records for each event it receives (JSON in the PluginStore list `record_list`). */
export interface ExampleRecord {
  event_id: string;
  room_id: string;
  type: string;
  sender: string;
  body?: string;
  fromBridge: boolean;
}

export class ExampleBridge implements BridgePlugin<ExampleConfig>, UserQueryHandler, AliasQueryHandler, ThirdPartyHandler {
  readonly descriptor = exampleDescriptor;
  private ctx: BridgeContext<ExampleConfig> | null = null;
  private echoes: Counter | null = null;

  private get context(): BridgeContext<ExampleConfig> {
    if (!this.ctx) throw new Error('the example bridge is not started');
    return this.ctx;
  }

  async start(ctx: BridgeContext<ExampleConfig>): Promise<void> {
    this.ctx = ctx;
    this.echoes = ctx.metrics.counter({ name: 'patchbay_example_echoes_total', help: 'Messages the echo ghost repeated' });
    ctx.logger.info({ echo_command: ctx.config.echo_command }, 'example bridge ready');
  }

  async stop(): Promise<void> {
    this.ctx = null;
  }

  /**
   * Called once per event, in room order, at least once: everything here is safe to repeat. Replies go
   * through the outbox under a remote id derived from the event id (posted once however often this runs),
   * and the record is appended once per event id.
   */
  async onMatrixEvent(event: MatrixEvent, ectx: EventContext): Promise<void> {
    const ctx = this.context;
    // The example network has no reactions: say so, instead of pretending they were carried.
    if (event.type === 'm.reaction') throw new IgnoredEventError('the example network has no reactions');
    const body = typeof event.content.body === 'string' ? event.content.body : undefined;
    if (event.type === 'm.room.member' && event.content.membership === 'invite' && event.state_key !== undefined) {
      // Someone invited one of our ghosts: it accepts.
      const remoteId = ctx.ghosts.remoteIdOf(event.state_key);
      if (remoteId !== null) await (await ctx.ghosts.intent(remoteId)).join(event.room_id);
    } else if (event.type === 'm.room.message' && body !== undefined && !ectx.fromBridge) {
      await this.onCommand(event, body, ectx);
    }
    const record: ExampleRecord = {
      event_id: event.event_id,
      room_id: event.room_id,
      type: event.type,
      sender: event.sender,
      ...(body !== undefined ? { body } : {}),
      fromBridge: ectx.fromBridge,
    };
    await ctx.store.appendOnce(ctx.config.record_list, event.event_id, JSON.stringify(record));
  }

  private async onCommand(event: MatrixEvent, body: string, ectx: EventContext): Promise<void> {
    const [word = '', ...rest] = body.trim().split(/\s+/);
    const argument = rest.join(' ');
    if (word === this.context.config.echo_command && argument.length > 0) await this.echo(event, argument);
    else if (word === '!link' && NAME.test(argument)) await this.link(event, argument);
    else if (word === '!dm' && NAME.test(argument)) await this.openConversation(event, argument);
    else if (word === '!refuse') {
      // A failure that will never go away: dead-lettered at once, the reason said in the room.
      throw new PermanentError(argument || 'refused on purpose (!refuse)');
    } else if (word === '!fail') {
      // Any other error means "try again": the host retries, then dead-letters and tells the room.
      ectx.logger.info({ attempt: ectx.attempt }, 'failing on purpose');
      throw new Error(argument || 'failing on purpose (!fail)');
    }
  }

  /** The echo ghost repeats the text as a reply. The outbox posts it once, in room order. */
  private async echo(event: MatrixEvent, text: string): Promise<void> {
    const ctx = this.context;
    await ctx.outbox.enqueue({
      remoteId: `echo:${event.event_id}`,
      roomId: event.room_id,
      senderRemoteId: ctx.config.echo_ghost,
      senderProfile: { displayName: ctx.config.echo_display_name },
      type: 'm.room.message',
      content: { msgtype: 'm.text', body: text, 'm.relates_to': { 'm.in_reply_to': { event_id: event.event_id } } },
      mapAs: { network: NETWORK, location: event.room_id, messageId: `echo:${event.event_id}` },
    });
    this.echoes?.inc();
  }

  /** Links this room to the place `example/<name>` and gives it the place's alias. */
  private async link(event: MatrixEvent, name: string): Promise<void> {
    const ctx = this.context;
    const alias = ctx.portals.aliasFor(name);
    // Our own alias lookups never reach onAliasQuery: this only reads what the homeserver has.
    const holder = await ctx.bot.resolveAlias(alias);
    if (holder !== null && holder !== event.room_id) throw new PermanentError(`${alias} is already the alias of another room`);
    await ctx.links.link(event.room_id, { network: NETWORK, location: name });
    if (holder === null) await ctx.bot.createAlias(alias, event.room_id);
    // Without a sender the bridge itself speaks: the bot where it is in the room, else a ghost that is.
    await ctx.outbox.enqueue({
      remoteId: `link:${event.event_id}`,
      roomId: event.room_id,
      senderRemoteId: null,
      type: 'm.room.message',
      content: { msgtype: 'm.notice', body: `Linked this room to ${NETWORK}/${name} (${alias}).` },
    });
  }

  /**
   * A conversation of the sender with the remote user `<name>`: a portal keyed by both, made once by
   * that user's ghost, which invites the sender and says hello there (once: the outbox posts a remote id
   * once per room).
   */
  private async openConversation(event: MatrixEvent, name: string): Promise<void> {
    const ctx = this.context;
    const portal = await ctx.portals.ensure({ network: NETWORK, location: name, receiver: event.sender }, {
      creator: { remoteId: name, profile: { displayName: name } },
      name: `${name} (example)`,
    });
    await ctx.outbox.enqueue({
      remoteId: 'hello',
      roomId: portal.roomId,
      senderRemoteId: name,
      type: 'm.room.message',
      content: { msgtype: 'm.text', body: `Hello, this is ${name} on the example network.` },
    });
  }

  // ---- UserQueryHandler: "does @example_bob:server exist?" -> make the ghost -----------------------------

  async onUserQuery(userId: string): Promise<boolean> {
    const remoteId = this.context.ghosts.remoteIdOf(userId);
    if (remoteId === null) return false;
    await this.context.ghosts.intent(remoteId, { displayName: remoteId });
    return true;
  }

  // ---- AliasQueryHandler: "does #example_lobby:server exist?" -> make the place's portal -----------------

  async onAliasQuery(alias: string): Promise<boolean> {
    const name = alias.slice(1 + exampleDescriptor.aliasPrefix.length, alias.lastIndexOf(':'));
    if (!NAME.test(name)) return false;
    await this.context.portals.ensure({ network: NETWORK, location: name }, { alias: name, name: `${NETWORK}/${name}` });
    return true;
  }

  // ---- ThirdPartyHandler: /thirdparty lookups ------------------------------------------------------------

  thirdPartyProtocol(): ThirdPartyProtocol {
    return {
      user_fields: ['name'],
      location_fields: ['name'],
      icon: '',
      field_types: { name: { regexp: NAME.source.slice(1, -1), placeholder: 'alice' } },
      instances: [{ desc: 'The example network', fields: {}, network_id: NETWORK }],
    };
  }

  async lookupThirdPartyUser(fields: Record<string, string>): Promise<ThirdPartyUser[]> {
    const name = fields.name;
    if (!name) return [];
    const known = await this.context.identities.userIdFor(exampleDescriptor.protocol, name);
    return [{ userid: known ?? this.context.ghosts.userIdFor(name), protocol: exampleDescriptor.protocol, fields: { name } }];
  }

  async lookupThirdPartyLocation(fields: Record<string, string>): Promise<ThirdPartyLocation[]> {
    const name = fields.name;
    if (!name || !NAME.test(name)) return [];
    // Every name has a portal alias: joining it makes the homeserver ask onAliasQuery, which makes it.
    return [{ alias: this.context.portals.aliasFor(name), protocol: exampleDescriptor.protocol, fields: { name } }];
  }

  async thirdPartyUsersOf(userId: string): Promise<ThirdPartyUser[]> {
    const name = (await this.context.identities.thirdPartyIdFor(exampleDescriptor.protocol, userId)) ?? this.context.ghosts.remoteIdOf(userId);
    return name === null ? [] : [{ userid: userId, protocol: exampleDescriptor.protocol, fields: { name } }];
  }

  async thirdPartyLocationsOf(alias: string, roomId: string | null): Promise<ThirdPartyLocation[]> {
    if (roomId === null) return [];
    const remotes = await this.context.links.remotesFor(roomId);
    return remotes.filter((r) => r.network === NETWORK).map((r) => ({ alias, protocol: exampleDescriptor.protocol, fields: { name: r.location } }));
  }
}
