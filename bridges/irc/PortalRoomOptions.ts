// How a portal room of an IRC channel is created. Its power levels are the homeserver's defaults except
// the topic, which any member may change: on IRC anyone in a channel without +t sets it, and a topic
// change crosses to IRC as the member's own TOPIC (the IRC server still decides whether it is allowed).
// power_level_content_override replaces `events` whole, so the usual levels come first.
import { bridgeInfoState, USUAL_EVENT_LEVELS, type BridgeInfo } from 'patchbay-matrix/plugin';

const PORTAL_EVENT_LEVELS = { ...USUAL_EVENT_LEVELS, 'm.room.topic': 0 };

/**
 * createRoom options for a portal: `aliasLocalpart` without `#` and server, `name` shown in clients,
 * `bridge` for the room's MSC2346 bridge info (clients show the room as bridged to that channel).
 */
export function portalRoomOptions(aliasLocalpart: string, name: string, bridge: BridgeInfo): Record<string, unknown> {
  return {
    room_alias_name: aliasLocalpart,
    name,
    topic: '',
    preset: 'public_chat',
    visibility: 'private',
    power_level_content_override: { events: PORTAL_EVENT_LEVELS },
    initial_state: bridgeInfoState(bridge),
  };
}
