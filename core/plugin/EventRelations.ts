import type { EventRelation, MatrixEvent } from '../plugin-api/index.js';

/** Where an event sits in a conversation, from its `m.relates_to` (edits, replies, threads). */
export function relationOf(event: MatrixEvent): EventRelation {
  const rel = event.content['m.relates_to'];
  if (typeof rel !== 'object' || rel === null) return {};
  const r = rel as Record<string, unknown>;
  const relation: EventRelation = {};
  const target = typeof r.event_id === 'string' ? r.event_id : undefined;
  if (r.rel_type === 'm.replace' && target) relation.replaces = target;
  if (r.rel_type === 'm.thread' && target) relation.threadRoot = target;
  const reply = r['m.in_reply_to'];
  // In a thread, `is_falling_back` marks a reply fallback for clients without threads, not a real reply.
  if (typeof reply === 'object' && reply !== null && !(r.rel_type === 'm.thread' && r.is_falling_back === true)) {
    const replyTo = (reply as Record<string, unknown>).event_id;
    if (typeof replyTo === 'string') relation.inReplyTo = replyTo;
  }
  return relation;
}
