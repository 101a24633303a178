import type { CallCandidate, MatrixCallEvent, MatrixEvent } from '../plugin-api/index.js';

type Call = MatrixCallEvent['call'];
type CallKind = Call['kind'];

const KINDS: Record<string, CallKind> = {
  'm.call.invite': 'invite',
  'm.call.answer': 'answer',
  'm.call.candidates': 'candidates',
  'm.call.hangup': 'hangup',
  'm.call.reject': 'reject',
  'm.call.select_answer': 'select_answer',
  'm.call.negotiate': 'negotiate',
  // MSC2747 (call transfer), as Element sends it.
  'm.call.replaces': 'replaces',
  'm.call.sdp_stream_metadata_changed': 'sdp_stream_metadata_changed',
};

/** Where each kind keeps its session description. */
const DESCRIPTION_KEY: Partial<Record<CallKind, string>> = { invite: 'offer', answer: 'answer', negotiate: 'description' };

/**
 * An `m.call.*` event with its VoIP version settled: legacy calls send the integer `0` and no party id,
 * current ones the string `"1"`; clients treat any other version as "1". A v0 hangup without a reason
 * gets the spec's default, `user_hangup`. What MSC2746 carries (SDP, candidates, reason, selected party,
 * invitee, lifetime) is read out where it is well formed and left out where it is not. Null when the
 * event has no call id (not a usable call event).
 */
export function normaliseCallEvent(event: MatrixEvent): MatrixCallEvent | null {
  if (!event.type.startsWith('m.call.')) return null;
  const c = event.content;
  if (typeof c.call_id !== 'string' || c.call_id.length === 0) return null;
  const version: 0 | '1' = c.version === 0 || c.version === '0' ? 0 : '1';
  const kind = KINDS[event.type] ?? 'other';
  const content = kind === 'hangup' && typeof c.reason !== 'string' ? { ...c, reason: 'user_hangup' } : c;
  const call: Call = { kind, callId: c.call_id, version, partyId: typeof c.party_id === 'string' ? c.party_id : null };
  const descriptionKey = DESCRIPTION_KEY[kind];
  const description = descriptionKey === undefined ? undefined : sessionDescription(c[descriptionKey]);
  if (description) call.description = description;
  if (kind === 'candidates') call.candidates = candidatesOf(c.candidates);
  if (typeof content.reason === 'string') call.reason = content.reason;
  if (kind === 'select_answer' && typeof c.selected_party_id === 'string') call.selectedPartyId = c.selected_party_id;
  if (kind === 'invite' && typeof c.invitee === 'string') call.invitee = c.invitee;
  if (typeof c.lifetime === 'number' && Number.isFinite(c.lifetime) && c.lifetime > 0) call.lifetimeMs = c.lifetime;
  return { ...event, content, call };
}

function sessionDescription(value: unknown): Call['description'] {
  if (typeof value !== 'object' || value === null) return undefined;
  const { type, sdp } = value as Record<string, unknown>;
  if ((type !== 'offer' && type !== 'answer') || typeof sdp !== 'string') return undefined;
  return { type, sdp };
}

function candidatesOf(value: unknown): CallCandidate[] {
  if (!Array.isArray(value)) return [];
  const out: CallCandidate[] = [];
  for (const item of value) {
    if (typeof item !== 'object' || item === null) continue;
    const { candidate, sdpMid, sdpMLineIndex } = item as Record<string, unknown>;
    if (typeof candidate !== 'string') continue;
    out.push({
      candidate,
      ...(typeof sdpMid === 'string' && { sdpMid }),
      ...(typeof sdpMLineIndex === 'number' && Number.isInteger(sdpMLineIndex) && sdpMLineIndex >= 0 && { sdpMLineIndex }),
    });
  }
  return out;
}
