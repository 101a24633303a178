// How a call ends, in both vocabularies: SIP final responses and Matrix hangup reasons (MSC2746), and the
// words the room's notice uses. One table each way, so every mapping is in one place.

/** Matrix hangup reasons the spec defines. */
export type HangupReason = 'ice_failed' | 'ice_timeout' | 'invite_timeout' | 'user_hangup' | 'user_media_failed' | 'user_busy' | 'unknown_error';

/** Outcomes the metrics count calls by (a closed set). */
export type CallOutcome = 'answered' | 'busy' | 'declined' | 'no_answer' | 'cancelled' | 'not_found' | 'refused' | 'failed';

/** What the Matrix side hears when SIP refuses an outgoing call. */
export interface SipFailure {
  /** `reject` for a decline (v1; legacy calls get a hangup), else a hangup with `reason`. */
  event: 'reject' | 'hangup';
  reason: HangupReason;
  outcome: CallOutcome;
  /** For the notice: "busy", "declined", ... */
  words: string;
}

/** A SIP final response to our INVITE, in Matrix terms. */
export function failureFromSip(status: number, phrase: string): SipFailure {
  if (status === 486 || status === 600) return { event: 'hangup', reason: 'user_busy', outcome: 'busy', words: 'busy' };
  if (status === 603) return { event: 'reject', reason: 'user_hangup', outcome: 'declined', words: 'declined' };
  if (status === 408 || status === 480) return { event: 'hangup', reason: 'invite_timeout', outcome: 'no_answer', words: 'no answer' };
  if (status === 487) return { event: 'hangup', reason: 'user_hangup', outcome: 'cancelled', words: 'cancelled' };
  if (status === 404 || status === 484 || status === 604) return { event: 'hangup', reason: 'unknown_error', outcome: 'not_found', words: `the number cannot be reached (${status} ${phrase})` };
  if (status === 401 || status === 407) return { event: 'hangup', reason: 'unknown_error', outcome: 'refused', words: `the line's credentials were refused (${status} ${phrase})` };
  if (status === 403) return { event: 'hangup', reason: 'unknown_error', outcome: 'refused', words: `refused by the far end (${status} ${phrase})` };
  if (status === 488 || status === 606) return { event: 'hangup', reason: 'user_media_failed', outcome: 'failed', words: `the far end cannot take this call's audio (${status} ${phrase})` };
  return { event: 'hangup', reason: 'unknown_error', outcome: 'failed', words: `${status} ${phrase}` };
}

/** How a ringing inbound call ended without an answer. */
export type Unanswered = 'rejected' | 'busy' | 'timeout' | 'hung_up' | 'unreachable';

/** The SIP final response to a ringing inbound call that no Matrix user took, from how they ended it. */
export function sipStatusForUnanswered(how: Unanswered): { statusCode: number; reasonPhrase: string } {
  switch (how) {
    case 'busy':
      return { statusCode: 486, reasonPhrase: 'Busy Here' };
    case 'timeout':
    case 'unreachable':
      return { statusCode: 480, reasonPhrase: 'Temporarily Unavailable' };
    default:
      return { statusCode: 603, reasonPhrase: 'Decline' };
  }
}

/** How a Matrix hangup before the answer reads for SIP. */
export function unansweredFromMatrix(kind: 'reject' | 'hangup', reason: string | undefined): Unanswered {
  if (kind === 'reject') return 'rejected';
  if (reason === 'user_busy') return 'busy';
  if (reason === 'invite_timeout') return 'timeout';
  return 'hung_up';
}

/** `1:05`, `1:02:03`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}
