// The example bridge: the template to copy when writing a Patchbay bridge plugin. It bridges to no real
// network; it shows every part of the contract in a few lines each (see README.md next to this file).
// A bridge imports only core/plugin/api.ts.
import type {
  AliasQueryHandler,
  BridgeContext,
  BridgeDescriptor,
  BridgePlugin,
  EventContext,
  MatrixEvent,
  PluginFactory,
  ThirdPartyHandler,
  ThirdPartyLocation,
  ThirdPartyProtocol,
  ThirdPartyUser,
  UserQueryHandler,
} from '../../core/plugin-api/index.js';

/** The config section `bridges.example`, after validation against `configSchema` (defaults filled in). */
export interface ExampleConfig {
  /** Messages starting with this word are echoed back by the echo ghost. */
  echo_command: string;
  /** Remote id of the ghost that echoes (`@example_<id>:server`). */
  echo_ghost: string;
  echo_display_name: string;
  /** PluginStore list where every event the plugin receives is recorded once (for tests and curiosity). */
  record_list: string;
}

/** The network this example pretends to bridge: the `network` of its RemoteLocations. */
const NETWORK = 'example';

const configSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  additionalProperties: false,
  properties: {
    echo_command: {
      type: 'string',
      pattern: '^\\S+$',
      default: '!echo',
      title: 'a command word',
      description: 'one word without spaces',
      examples: ['!echo'],
    },
    echo_ghost: {
      type: 'string',
      minLength: 1,
      default: 'echo',
      title: 'a remote user id',
      description: 'the remote id of the ghost that echoes',
      examples: ['echo'],
    },
    echo_display_name: {
      type: 'string',
      minLength: 1,
      default: 'Echo',
      title: 'a display name',
      description: 'the display name of the echo ghost',
      examples: ['Echo'],
    },
    record_list: {
      type: 'string',
      pattern: '^[A-Za-z0-9_.-]+$',
      default: 'received',
      title: 'a list name',
      description: 'letters, digits, _ . -',
      examples: ['received'],
    },
  },
};

const descriptor: BridgeDescriptor = {
  protocol: 'example',
  ghostPrefix: 'example_',
  aliasPrefix: 'example_',
  configSchema,
};

/** What the plugin records for each event it receives (JSON in the PluginStore list). */
export interface ExampleRecord {
  event_id: string;
  room_id: string;
  type: string;
  sender: string;
  body?: string;
  fromBridge: boolean;
}

export class ExamplePlugin implements BridgePlugin<ExampleConfig>, UserQueryHandler, AliasQueryHandler, ThirdPartyHandler {
  readonly descriptor = descriptor;
  private ctx: BridgeContext<ExampleConfig> | null = null;

  private get context(): BridgeContext<ExampleConfig> {
    if (!this.ctx) throw new Error('the example bridge is not started');
    return this.ctx;
  }

  async start(ctx: BridgeContext<ExampleConfig>): Promise<void> {
    this.ctx = ctx;
    ctx.logger.info({ echo_command: ctx.config.echo_command }, 'example bridge ready');
  }

  async stop(): Promise<void> {
    this.ctx = null;
  }

  /**
   * Called once per event, in room order, at least once: everything here is safe to repeat. The echo is
   * queued under a remote id derived from the event id (the outbox posts it once however often this
   * runs), and the record is appended with appendOnce keyed by the event id.
   */
  async onMatrixEvent(event: MatrixEvent, ectx: EventContext): Promise<void> {
    const ctx = this.context;
    const body = typeof event.content.body === 'string' ? event.content.body : undefined;

    if (event.type === 'm.room.member' && event.content.membership === 'invite' && event.state_key) {
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
    const ctx = this.context;
    const [word = '', ...rest] = body.trim().split(/\s+/);
    const argument = body.trim().slice(word.length).trim();
    if (word === ctx.config.echo_command && argument.length > 0) {
      // Remote->Matrix always goes through the outbox: durable, ordered per room, posted exactly once.
      const remoteId = `echo:${event.event_id}`;
      await ctx.outbox.enqueue({
        remoteId,
        roomId: event.room_id,
        senderRemoteId: ctx.config.echo_ghost,
        senderProfile: { displayName: ctx.config.echo_display_name },
        type: 'm.room.message',
        content: { msgtype: 'm.text', body: argument, 'm.relates_to': { 'm.in_reply_to': { event_id: event.event_id } } },
        mapAs: { network: NETWORK, location: event.room_id, messageId: remoteId },
      });
    } else if (word === '!link' && rest.length === 1 && /^[A-Za-z0-9._-]+$/.test(argument)) {
      await this.linkRoom(event.room_id, argument);
      // Even the bot's reply goes through the outbox, keyed by the command's event id: a retry of this
      // event cannot post it twice (ctx.notice would, being fire-and-forget).
      await ctx.outbox.enqueue({
        remoteId: `link:${event.event_id}`,
        roomId: event.room_id,
        senderRemoteId: null,
        type: 'm.room.message',
        content: { msgtype: 'm.notice', body: `Linked this room to ${NETWORK}/${argument}.` },
      });
    } else if (word === '!fail') {
      // Shows what a failing plugin looks like: the host retries, then dead-letters and posts a notice.
      ectx.logger.info({ attempt: ectx.attempt }, 'failing on purpose');
      throw new Error(argument || 'failing on purpose (!fail)');
    }
  }

  /** Links a room to a remote place and gives it the portal alias `#example_<name>:server`. */
  private async linkRoom(roomId: string, name: string): Promise<void> {
    const ctx = this.context;
    await ctx.links.link(roomId, { network: NETWORK, location: name });
    const alias = this.aliasFor(name);
    const existing = await ctx.bot.resolveAlias(alias);
    if (existing === null) await ctx.bot.createAlias(alias, roomId);
  }

  private aliasFor(name: string): string {
    return `#${descriptor.aliasPrefix}${name}:${this.context.serverName}`;
  }

  // ---- UserQueryHandler: "does @example_bob:server exist?" -> create it ------------------------------

  async onUserQuery(userId: string): Promise<boolean> {
    const remoteId = this.context.ghosts.remoteIdOf(userId);
    if (remoteId === null) return false;
    await this.context.ghosts.intent(remoteId, { displayName: remoteId });
    return true;
  }

  // ---- AliasQueryHandler: "does #example_lobby:server exist?" -> create the portal room ---------------

  async onAliasQuery(alias: string): Promise<boolean> {
    const ctx = this.context;
    const name = alias.slice(1 + descriptor.aliasPrefix.length, alias.lastIndexOf(':'));
    if (!/^[A-Za-z0-9._-]+$/.test(name)) return false;
    const roomId = await ctx.bot.createRoom({
      preset: 'public_chat',
      visibility: 'private',
      name: `${NETWORK}/${name}`,
      room_alias_name: `${descriptor.aliasPrefix}${name}`,
    });
    await ctx.links.link(roomId, { network: NETWORK, location: name });
    return true;
  }

  // ---- ThirdPartyHandler: /thirdparty lookups ----------------------------------------------------------

  thirdPartyProtocol(): ThirdPartyProtocol {
    return {
      user_fields: ['name'],
      location_fields: ['name'],
      icon: '',
      field_types: { name: { regexp: '[A-Za-z0-9._-]+', placeholder: 'alice' } },
      instances: [{ desc: 'The example network', fields: {}, network_id: NETWORK }],
    };
  }

  async lookupThirdPartyUser(fields: Record<string, string>): Promise<ThirdPartyUser[]> {
    const name = fields.name;
    if (!name) return [];
    const known = await this.context.identities.userIdFor(descriptor.protocol, name);
    return [{ userid: known ?? this.context.ghosts.userIdFor(name), protocol: descriptor.protocol, fields: { name } }];
  }

  async lookupThirdPartyLocation(fields: Record<string, string>): Promise<ThirdPartyLocation[]> {
    const name = fields.name;
    if (!name || !/^[A-Za-z0-9._-]+$/.test(name)) return [];
    // Every name has a portal alias: joining it makes the homeserver ask onAliasQuery, which creates it.
    return [{ alias: this.aliasFor(name), protocol: descriptor.protocol, fields: { name } }];
  }

  async thirdPartyUsersOf(userId: string): Promise<ThirdPartyUser[]> {
    const name = (await this.context.identities.thirdPartyIdFor(descriptor.protocol, userId)) ?? this.context.ghosts.remoteIdOf(userId);
    return name === null ? [] : [{ userid: userId, protocol: descriptor.protocol, fields: { name } }];
  }

  async thirdPartyLocationsOf(alias: string, roomId: string | null): Promise<ThirdPartyLocation[]> {
    if (roomId === null) return [];
    const remotes = await this.context.links.remotesFor(roomId);
    return remotes.filter((r) => r.network === NETWORK).map((r) => ({ alias, protocol: descriptor.protocol, fields: { name: r.location } }));
  }
}

/** The factory the host calls: a default export (or a `createPlugin` export) returning a fresh plugin. */
const createExamplePlugin: PluginFactory<ExampleConfig> = () => new ExamplePlugin();
export default createExamplePlugin;
