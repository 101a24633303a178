/** What a room's MSC2346 bridge info says: which bridge, network and place the room is the portal of. */
export interface BridgeInfo {
  /** The bridge's bot user. */
  bridgebot: string;
  /** Who made the room (the bot, or a ghost). */
  creator: string;
  /** The bridge's protocol id (`irc`) and what users call it (`IRC`). */
  protocol: { id: string; displayname: string };
  /** The remote network (`libera`) and the place on it (`#patchbay`). */
  network: string;
  channel: string;
  /** How users name the network (`Libera.Chat`), where the bridge knows it. */
  networkName?: string;
}

/**
 * The state events clients read to show "bridged to ..." (`m.bridge`, and `uk.half-shot.bridge` that
 * clients read today), for createRoom's `initial_state`. Patchbay's bridges carry no encrypted messages,
 * so the content says so; the state key names the place, so one room can be a portal of one place only.
 */
export function bridgeInfoState(info: BridgeInfo): Array<{ type: string; state_key: string; content: Record<string, unknown> }> {
  const content = {
    bridgebot: info.bridgebot,
    creator: info.creator,
    protocol: info.protocol,
    network: { id: info.network, ...(info.networkName !== undefined ? { displayname: info.networkName } : {}) },
    channel: { id: info.channel },
    'io.patchbay.encryption': 'unsupported',
  };
  const stateKey = `patchbay://${info.protocol.id}/${encodeURIComponent(info.network)}/${encodeURIComponent(info.channel)}`;
  return ['m.bridge', 'uk.half-shot.bridge'].map((type) => ({ type, state_key: stateKey, content }));
}
