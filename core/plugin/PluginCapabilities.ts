import type {
  AliasQueryHandler,
  AttachmentHandler,
  BridgePlugin,
  CallHandler,
  EphemeralHandler,
  RoomUpgradeHandler,
  ThirdPartyHandler,
  UserQueryHandler,
} from '../plugin-api/index.js';

/** The optional interfaces a plugin implements, detected once by shape when it is loaded. */
export interface PluginCapabilities {
  userQuery?: UserQueryHandler;
  aliasQuery?: AliasQueryHandler;
  thirdParty?: ThirdPartyHandler;
  ephemeral?: EphemeralHandler;
  call?: CallHandler;
  attachment?: AttachmentHandler;
  roomUpgrade?: RoomUpgradeHandler;
}

function has<K extends string>(plugin: object, ...methods: K[]): plugin is Record<K, (...args: never[]) => unknown> {
  return methods.every((m) => typeof (plugin as Record<string, unknown>)[m] === 'function');
}

export function detectCapabilities(plugin: BridgePlugin): PluginCapabilities {
  const caps: PluginCapabilities = {};
  // Each capability is the plugin itself, seen through the interface, so calls keep their `this`.
  if (has(plugin, 'onUserQuery')) caps.userQuery = plugin as unknown as UserQueryHandler;
  if (has(plugin, 'onAliasQuery')) caps.aliasQuery = plugin as unknown as AliasQueryHandler;
  if (has(plugin, 'thirdPartyProtocol', 'lookupThirdPartyUser', 'lookupThirdPartyLocation')) caps.thirdParty = plugin as unknown as ThirdPartyHandler;
  if (has(plugin, 'onEphemeralEvent')) caps.ephemeral = plugin as unknown as EphemeralHandler;
  if (has(plugin, 'onCallEvent')) caps.call = plugin as unknown as CallHandler;
  if (has(plugin, 'onAttachment')) caps.attachment = plugin as unknown as AttachmentHandler;
  if (has(plugin, 'onRoomUpgraded')) caps.roomUpgrade = plugin as unknown as RoomUpgradeHandler;
  return caps;
}

/** Names of the capabilities, for logs ("example: user-query, third-party"). */
export function capabilityNames(caps: PluginCapabilities): string[] {
  const names: Record<keyof PluginCapabilities, string> = {
    userQuery: 'user-query',
    aliasQuery: 'alias-query',
    thirdParty: 'third-party',
    ephemeral: 'ephemeral',
    call: 'calls',
    attachment: 'attachments',
    roomUpgrade: 'room-upgrades',
  };
  return (Object.keys(caps) as Array<keyof PluginCapabilities>).map((k) => names[k]);
}
