// The room versions this server creates and understands. A single server needs no state resolution, so
// what differs between versions here is only who the creator is and what redaction keeps.
export const SUPPORTED_ROOM_VERSIONS = ['10', '11'] as const;
export type RoomVersion = (typeof SUPPORTED_ROOM_VERSIONS)[number];
export const DEFAULT_ROOM_VERSION: RoomVersion = '10';

export function isSupportedRoomVersion(v: unknown): v is RoomVersion {
  return typeof v === 'string' && (SUPPORTED_ROOM_VERSIONS as readonly string[]).includes(v);
}

/** v11 drops `creator` from the create event: the creator is its sender. */
export function creatorOf(version: string, create: { sender: string; content: Record<string, unknown> }): string {
  if (version === '11') return create.sender;
  const c = create.content['creator'];
  return typeof c === 'string' ? c : create.sender;
}

/** v11 moves `redacts` into the redaction event's content. */
export function redactsInContent(version: string): boolean {
  return version === '11';
}
