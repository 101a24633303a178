// The read-only view of a room's state that auth rules and power-level checks work against.
export interface StateEntry {
  event_id: string;
  sender: string;
  content: Record<string, unknown>;
}

export interface RoomStateView {
  get(type: string, stateKey: string): StateEntry | undefined;
  /** Number of state entries; the creator's first join is allowed only right after the create event. */
  size(): number;
}

export function membershipIn(state: RoomStateView, userId: string): string {
  const m = state.get('m.room.member', userId)?.content['membership'];
  return typeof m === 'string' ? m : 'leave';
}
