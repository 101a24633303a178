// The `m.relates_to` of an event's content (spec: "Forming relationships between events"): a relation
// needs a string `rel_type` and the parent's event ID. Replies (`m.in_reply_to` alone) are not relations
// the server aggregates.
import { isValidEventId } from '../ids/MatrixIds.js';

export interface Relation {
  relType: string;
  /** The parent event. */
  eventId: string;
}

export const THREAD = 'm.thread';
export const REPLACE = 'm.replace';
export const REFERENCE = 'm.reference';

/** The thread of an event outside any thread: the room's main timeline (receipts and counts use the name). */
export const MAIN_TIMELINE = 'main';

export function relationOf(content: Record<string, unknown>): Relation | null {
  const rel = content['m.relates_to'];
  if (typeof rel !== 'object' || rel === null || Array.isArray(rel)) return null;
  const relType = (rel as Record<string, unknown>)['rel_type'];
  const eventId = (rel as Record<string, unknown>)['event_id'];
  if (typeof relType !== 'string' || relType.length === 0 || !isValidEventId(eventId)) return null;
  return { relType, eventId };
}
