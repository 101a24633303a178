import type { MatrixCallEvent, MatrixEvent } from '../plugin-api/index.js';

type CallKind = MatrixCallEvent['call']['kind'];

const KINDS: Record<string, CallKind> = {
  'm.call.invite': 'invite',
  'm.call.answer': 'answer',
  'm.call.candidates': 'candidates',
  'm.call.hangup': 'hangup',
  'm.call.reject': 'reject',
  'm.call.select_answer': 'select_answer',
  'm.call.negotiate': 'negotiate',
};

/**
 * An `m.call.*` event with its VoIP version settled: legacy calls send the integer `0` and no party id,
 * current ones the string `"1"`; clients treat any other version as "1". A v0 hangup without a reason
 * gets the spec's default, `user_hangup`. Null when the event has no call id (not a usable call event).
 */
export function normaliseCallEvent(event: MatrixEvent): MatrixCallEvent | null {
  if (!event.type.startsWith('m.call.')) return null;
  const c = event.content;
  if (typeof c.call_id !== 'string' || c.call_id.length === 0) return null;
  const version: 0 | '1' = c.version === 0 || c.version === '0' ? 0 : '1';
  const kind = KINDS[event.type] ?? 'other';
  const content = kind === 'hangup' && typeof c.reason !== 'string' ? { ...c, reason: 'user_hangup' } : c;
  return {
    ...event,
    content,
    call: { kind, callId: c.call_id, version, partyId: typeof c.party_id === 'string' ? c.party_id : null },
  };
}
