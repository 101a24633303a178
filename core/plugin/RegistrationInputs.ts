import type { BridgeDescriptor } from '../plugin-api/index.js';

/** What registration/'s generateRegistration takes (kept structural: core/ does not need to import it). */
export interface RegistrationInputs {
  id: string;
  url: string | null;
  serverName: string;
  senderLocalpart: string;
  bridges: Array<{ protocol: string; ghostPrefix: string; aliasPrefix: string; thirdPartyProtocols?: string[] }>;
  receiveEphemeral?: boolean;
}

/**
 * The host's registration inputs from the loaded plugins: one registration covers every bridge, each
 * claiming its ghost and alias prefixes. Ephemeral events are asked for only when a plugin handles them.
 */
export function registrationInputsFor(
  plugins: ReadonlyArray<{ name: string; descriptor: BridgeDescriptor; capabilities?: { ephemeral?: unknown } }>,
  host: { id: string; url: string | null; serverName: string; senderLocalpart: string },
): RegistrationInputs {
  const sender = host.senderLocalpart;
  for (const p of plugins) {
    // The bot must not look like one of a bridge's ghosts, or the bridge would treat it as one.
    if (sender.startsWith(p.descriptor.ghostPrefix)) {
      throw new Error(
        `The sender localpart "${sender}" starts with the ghost prefix "${p.descriptor.ghostPrefix}" of bridges.${p.name}. Fix: choose a sender localpart outside every bridge's ghost prefix`,
      );
    }
  }
  return {
    id: host.id,
    url: host.url,
    serverName: host.serverName,
    senderLocalpart: sender,
    bridges: plugins.map(({ descriptor: d }) => ({
      protocol: d.protocol,
      ghostPrefix: d.ghostPrefix,
      aliasPrefix: d.aliasPrefix,
      ...(d.thirdPartyProtocols?.length ? { thirdPartyProtocols: d.thirdPartyProtocols } : {}),
    })),
    receiveEphemeral: plugins.some((p) => p.capabilities?.ephemeral !== undefined),
  };
}
