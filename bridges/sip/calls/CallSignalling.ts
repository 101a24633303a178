// The Matrix half of a call, as the SIP party's ghost says it: m.call.* events for one leg (one Matrix
// user's room and call id), shaped for the leg's VoIP version (v1: party ids, reject, select_answer,
// negotiate; legacy v0: none of those).
import { randomBytes } from 'node:crypto';
import type { Intent } from 'patchbay-matrix/plugin';
import type { HangupReason } from './CallOutcomes.js';

export interface CallLeg {
  userId: string;
  roomId: string;
  callId: string;
  /** The ghost's party id in this call. */
  partyId: string;
  version: 0 | '1';
  /** The Matrix device that placed or answered the call (v1), once known. */
  peerPartyId: string | null;
  state: 'ringing' | 'answered' | 'ended';
}

/**
 * A call id for calls the bridge places into Matrix. MSC2746 settles glare (both sides calling at once)
 * in favour of the lower call id; clients make theirs from "c" + a timestamp, so a leading digit lets a
 * phone call that already rings win over a Matrix call crossing it.
 */
export function bridgeCallId(): string {
  return `0${Date.now().toString(36)}${randomBytes(6).toString('hex')}`;
}

export function bridgePartyId(): string {
  return `patchbay${randomBytes(4).toString('hex')}`;
}

export class CallSignalling {
  constructor(private readonly ghost: () => Promise<Intent>) {}

  invite(leg: CallLeg, sdp: string, lifetimeMs: number): Promise<string> {
    return this.send(leg, 'm.call.invite', { offer: { type: 'offer', sdp }, lifetime: lifetimeMs, ...(leg.version === '1' && { invitee: leg.userId }) });
  }

  answer(leg: CallLeg, sdp: string): Promise<string> {
    return this.send(leg, 'm.call.answer', { answer: { type: 'answer', sdp } });
  }

  selectAnswer(leg: CallLeg, selectedPartyId: string): Promise<string> | null {
    return leg.version === '1' ? this.send(leg, 'm.call.select_answer', { selected_party_id: selectedPartyId }) : null;
  }

  /** A decline: `m.call.reject` in v1, a hangup in legacy calls (which have no reject). */
  reject(leg: CallLeg, reason: HangupReason): Promise<string> {
    return leg.version === '1' ? this.send(leg, 'm.call.reject', {}) : this.hangup(leg, reason);
  }

  hangup(leg: CallLeg, reason: HangupReason): Promise<string> {
    return this.send(leg, 'm.call.hangup', { reason });
  }

  negotiate(leg: CallLeg, type: 'offer' | 'answer', sdp: string, lifetimeMs: number): Promise<string> {
    return this.send(leg, 'm.call.negotiate', { description: { type, sdp }, ...(type === 'offer' && { lifetime: lifetimeMs }) });
  }

  private async send(leg: CallLeg, type: string, content: Record<string, unknown>): Promise<string> {
    const base = leg.version === '1' ? { call_id: leg.callId, party_id: leg.partyId, version: '1' } : { call_id: leg.callId, version: 0 };
    return (await this.ghost()).sendEvent(leg.roomId, type, { ...base, ...content });
  }
}
