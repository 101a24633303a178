// A SIP party calls in: every Matrix user the called number rings for gets an m.call.invite from the
// caller's ghost in their own portal (parallel ring). The first answer wins and becomes the 200 OK; that
// user's other devices get select_answer, the other users a hangup and a notice. Nobody answering, all
// declining, or the caller giving up ends it with the matching SIP status and a "missed call" notice.
import type { MatrixCallEvent } from 'patchbay-matrix/plugin';
import { SessionState, type Invitation } from 'sip.js';
import type { SipLine } from '../lines/SipLine.js';
import type { RemoteParty } from '../numbers/RemoteParty.js';
import { ringingInvite, type SipCleanup } from '../sip/CleanupMessages.js';
import { BridgedCall, type CallEnv } from './BridgedCall.js';
import { sipStatusForUnanswered, unansweredFromMatrix, type Unanswered } from './CallOutcomes.js';
import { bridgeCallId, bridgePartyId, type CallLeg } from './CallSignalling.js';
import { sdpProblem } from './Sdp.js';

export interface RingTarget {
  userId: string;
  roomId: string;
}

export class InboundCall extends BridgedCall {
  private ringTimer: NodeJS.Timeout | null = null;
  /** The leg whose answer is being sent to SIP (before the 200 has left). */
  private answering: CallLeg | null = null;
  /** How the last leg that ended without answering ended it. */
  private lastRefusal: Unanswered = 'hung_up';
  /** The bridge is refusing the INVITE itself (the session ends; the caller did not give up). */
  private refusing = false;

  constructor(
    line: SipLine,
    party: RemoteParty,
    env: CallEnv,
    private readonly invitation: Invitation,
    private readonly offer: string,
  ) {
    super('inbound', line, party, env);
  }

  /** Rings every target at once; resolves once the invites are out. */
  async ring(targets: RingTarget[]): Promise<void> {
    for (const t of targets) {
      this.legs.push({ userId: t.userId, roomId: t.roomId, callId: bridgeCallId(), partyId: bridgePartyId(), version: '1', peerPartyId: null, state: 'ringing' });
    }
    this.env.registry.add(this);
    this.attach(this.invitation);
    this.invitation.stateChange.addListener((state) => {
      if (state === SessionState.Terminated && this.answeredAt === null && !this.isEnded && !this.refusing) this.callerGaveUp();
    });
    this.saveRecord();
    this.invitation.progress().catch((err: unknown) => this.log.debug({ err }, 'could not send 180 Ringing'));
    const lifetime = this.env.settings.ringTimeoutMs;
    this.ringTimer = setTimeout(() => this.ringTimeout(), lifetime);
    const sent = await Promise.all(
      this.legs.map((leg) =>
        this.signalling.invite(leg, this.offer, lifetime).then(
          () => true,
          (err: unknown) => {
            this.log.warn({ err, user: leg.userId }, 'could not ring a Matrix user');
            leg.state = 'ended';
            return false;
          },
        ),
      ),
    );
    if (!sent.some(Boolean) && !this.isEnded) {
      this.lastRefusal = 'unreachable';
      this.rejectSip();
      this.finish('failed');
    }
  }

  protected async onSetupEvent(event: MatrixCallEvent, leg: CallLeg): Promise<void> {
    if (event.call.kind === 'answer') await this.matrixAnswered(event, leg);
  }

  private async matrixAnswered(event: MatrixCallEvent, leg: CallLeg): Promise<void> {
    // A later answer (another device, another user) loses: it hears select_answer or a hangup below.
    if (this.answering || this.answeredAt !== null || leg.state !== 'ringing') return;
    const sdp = event.call.description?.sdp;
    const problem = sdp === undefined ? 'the answer has no session description' : sdpProblem(sdp, this.env.settings.maxSdpBytes);
    if (problem || sdp === undefined) {
      this.log.warn({ problem, user: leg.userId }, 'unusable answer from Matrix');
      leg.state = 'ended';
      this.signalling.hangup(leg, 'user_media_failed').catch(() => undefined);
      this.notice(leg, 'bad-answer', `📞 Your answer to ${this.party.displayName} could not be used: ${problem}.`);
      if (this.legs.every((l) => l.state === 'ended')) {
        this.rejectSip();
        this.finish('failed');
      }
      return;
    }
    this.answering = leg;
    leg.peerPartyId = event.call.partyId;
    this.initialAnswer = sdp;
    if (this.ringTimer) clearTimeout(this.ringTimer);
    try {
      await this.invitation.accept();
    } catch (err) {
      // The caller hung up as the answer went out.
      this.log.info({ err: err instanceof Error ? err.message : String(err) }, 'the caller was gone when the call was answered');
      this.answering = null;
      if (!this.isEnded) this.callerGaveUp();
      return;
    }
    this.established(leg);
    this.answering = null;
    if (leg.peerPartyId !== null) this.signalling.selectAnswer(leg, leg.peerPartyId)?.catch(() => undefined);
    const who = leg.userId;
    for (const other of this.legs) {
      if (other === leg || other.state === 'ended') continue;
      other.state = 'ended';
      this.signalling.hangup(other, 'user_hangup').catch(() => undefined);
      this.notice(other, 'ended', `📞 Call from ${this.party.displayName}: answered elsewhere (by ${who}).`);
    }
    this.log.info({ user: who }, 'call answered in Matrix');
  }

  protected async unansweredLegEnded(leg: CallLeg, kind: 'hangup' | 'reject', reason: string | undefined): Promise<void> {
    if (leg.state === 'ended' || leg === this.answering) return;
    leg.state = 'ended';
    this.lastRefusal = unansweredFromMatrix(kind, reason);
    if (this.legs.some((l) => l.state !== 'ended')) return;
    if (this.ringTimer) clearTimeout(this.ringTimer);
    this.rejectSip();
    this.notice(leg, 'ended', `📞 Declined call from ${this.party.displayName}.`);
    this.finish(this.lastRefusal === 'busy' ? 'busy' : 'declined');
  }

  private ringTimeout(): void {
    if (this.answeredAt !== null || this.answering || this.isEnded) return;
    this.lastRefusal = 'timeout';
    this.rejectSip();
    this.missed('invite_timeout');
    this.finish('no_answer');
  }

  private callerGaveUp(): void {
    if (this.ringTimer) clearTimeout(this.ringTimer);
    this.missed('user_hangup');
    this.finish('cancelled');
  }

  private missed(reason: 'invite_timeout' | 'user_hangup'): void {
    for (const leg of this.legs) {
      if (leg.state === 'ended') continue;
      leg.state = 'ended';
      this.signalling.hangup(leg, reason).catch(() => undefined);
      this.notice(leg, 'ended', `📞 Missed call from ${this.party.displayName}.`);
    }
  }

  private rejectSip(): void {
    this.refusing = true;
    if (this.invitation.state !== SessionState.Initial && this.invitation.state !== SessionState.Establishing) return;
    this.invitation.reject(sipStatusForUnanswered(this.lastRefusal)).catch((err: unknown) => this.log.debug({ err }, 'could not refuse the INVITE'));
  }

  protected override finish(outcome: Parameters<BridgedCall['finish']>[0]): void {
    if (this.ringTimer) clearTimeout(this.ringTimer);
    super.finish(outcome);
  }

  protected sipCleanup(): SipCleanup | null {
    return this.dialogRecord() ?? ringingInvite(this.invitation.request.data);
  }
}
