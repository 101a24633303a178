// A Matrix user calls a SIP party (the ghost in their portal): the invite's offer, with the candidates
// the client trickles in a bounded wait, leaves as an INVITE; the far end's answer comes back as
// m.call.answer; its refusal as a reject or hangup with the reason, and a notice.
import type { MatrixCallEvent } from 'patchbay-matrix/plugin';
import { Inviter, UserAgent, type InviterOptions } from 'sip.js';
import type { SipLine } from '../lines/SipLine.js';
import type { RemoteParty } from '../numbers/RemoteParty.js';
import { sentInvite, type SipCleanup } from '../sip/CleanupMessages.js';
import { BridgedCall, type CallEnv } from './BridgedCall.js';
import { failureFromSip } from './CallOutcomes.js';
import { bridgePartyId, type CallLeg } from './CallSignalling.js';
import { hasEndOfCandidates, withCandidates } from './Sdp.js';

export interface OutboundRequest {
  event: MatrixCallEvent;
  /** Where the INVITE goes: `sip:+14155550100@sip.carrier.example`. */
  targetUri: string;
  /** The caller id it carries (the user's number on the line), or the line's own. */
  fromUri: string | null;
  fromDisplayName: string | null;
}

export class OutboundCall extends BridgedCall {
  private readonly leg: CallLeg;
  private offer: string;
  private readonly candidates: Array<{ candidate: string; sdpMid?: string; sdpMLineIndex?: number }> = [];
  private inviter: Inviter | null = null;
  private candidateTimer: NodeJS.Timeout | null = null;
  private ringTimer: NodeJS.Timeout | null = null;
  private cancelled = false;

  constructor(line: SipLine, party: RemoteParty, env: CallEnv, private readonly request: OutboundRequest) {
    super('outbound', line, party, env);
    const e = request.event;
    this.leg = { userId: e.sender, roomId: e.room_id, callId: e.call.callId, partyId: bridgePartyId(), version: e.call.version, peerPartyId: e.call.partyId, state: 'ringing' };
    this.legs.push(this.leg);
    this.offer = e.call.description?.sdp ?? '';
  }

  /** Registers the call and sends the INVITE once the client's candidates are in (or the wait is over). */
  start(): void {
    this.env.registry.add(this);
    this.saveRecord();
    const lifetime = Math.min(this.request.event.call.lifetimeMs ?? this.env.settings.ringTimeoutMs, this.env.settings.ringTimeoutMs);
    this.ringTimer = setTimeout(() => this.ringTimeout(), lifetime);
    if (hasEndOfCandidates(this.offer) || this.env.settings.candidateWaitMs === 0) this.sendInvite();
    else this.candidateTimer = setTimeout(() => this.sendInvite(), this.env.settings.candidateWaitMs);
  }

  protected async onSetupEvent(event: MatrixCallEvent, leg: CallLeg): Promise<void> {
    const c = event.call;
    if (c.kind === 'candidates' && c.candidates) {
      if (this.inviter) return; // the INVITE left: rtpengine learns the rest from the ICE checks
      this.candidates.push(...c.candidates);
      if (c.candidates.some((x) => x.candidate === '')) this.sendInvite();
      return;
    }
    if (c.kind === 'select_answer' && c.selectedPartyId !== undefined && c.selectedPartyId !== leg.partyId) {
      // The caller chose another answer (not ours): this call is not wanted.
      this.endSip();
      this.finish('cancelled');
    }
  }

  private sendInvite(): void {
    if (this.inviter || this.isEnded) return;
    if (this.candidateTimer) clearTimeout(this.candidateTimer);
    this.candidateTimer = null;
    const offer = withCandidates(this.offer, this.candidates);
    const target = UserAgent.makeURI(this.request.targetUri);
    if (!target) {
      this.fail(404, 'Not Found');
      return;
    }
    const options: InviterOptions = {
      params: {
        ...(this.request.fromUri && { fromUri: this.request.fromUri }),
        ...(this.request.fromDisplayName && { fromDisplayName: this.request.fromDisplayName }),
      },
    };
    const inviter = new Inviter(this.line.ua, target, options);
    this.inviter = inviter;
    this.attach(inviter);
    this.prepareOffer(offer, async (answer) => this.answeredBySip(answer));
    inviter
      .invite({
        requestDelegate: {
          onReject: (res) => this.fail(res.message.statusCode ?? 500, res.message.reasonPhrase ?? ''),
        },
      })
      .then(() => this.saveRecord())
      .catch((err: unknown) => {
        this.log.warn({ err }, 'the INVITE could not be sent');
        this.fail(503, 'Service Unavailable');
      });
  }

  /** The far end answered: Matrix gets the answer. */
  private async answeredBySip(answer: string): Promise<void> {
    if (this.isEnded) throw new Error('the call ended');
    if (this.ringTimer) clearTimeout(this.ringTimer);
    await this.signalling.answer(this.leg, answer);
    this.established(this.leg);
    this.log.info('call answered by the far end');
  }

  private fail(status: number, phrase: string): void {
    if (this.isEnded || this.cancelled) {
      if (!this.isEnded) this.finish('cancelled');
      return;
    }
    const failure = failureFromSip(status, phrase);
    const send = failure.event === 'reject' ? this.signalling.reject(this.leg, failure.reason) : this.signalling.hangup(this.leg, failure.reason);
    send.catch((err: unknown) => this.log.warn({ err }, 'could not tell Matrix the call failed'));
    this.notice(this.leg, 'ended', `📞 Call to ${this.party.displayName} ${failure.outcome === 'declined' ? 'was declined' : `failed: ${failure.words}`}.`);
    this.finish(failure.outcome);
  }

  private ringTimeout(): void {
    if (this.answeredAt !== null || this.isEnded) return;
    this.cancelled = true;
    this.endSip();
    this.signalling.hangup(this.leg, 'invite_timeout').catch(() => undefined);
    this.notice(this.leg, 'ended', `📞 Call to ${this.party.displayName}: no answer.`);
    this.finish('no_answer');
  }

  protected async unansweredLegEnded(leg: CallLeg): Promise<void> {
    // The caller hung up before the far end answered: CANCEL (or nothing, if the INVITE never left).
    leg.state = 'ended';
    this.cancelled = true;
    if (this.ringTimer) clearTimeout(this.ringTimer);
    if (this.inviter) this.endSip();
    this.finish('cancelled');
  }

  protected override finish(outcome: Parameters<BridgedCall['finish']>[0]): void {
    if (this.candidateTimer) clearTimeout(this.candidateTimer);
    if (this.ringTimer) clearTimeout(this.ringTimer);
    super.finish(outcome);
  }

  protected sipCleanup(): SipCleanup | null {
    if (!this.inviter) return null;
    return this.dialogRecord() ?? sentInvite(this.inviter.request.toString());
  }
}
