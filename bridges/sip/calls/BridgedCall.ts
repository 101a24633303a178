// One call between Matrix users and a SIP party. This is what both directions share once the call is
// set up: the SDP exchanges of renegotiation (hold and resume, both ways), hangups both ways with a notice
// in the room, DTMF over INFO both ways, transfers both ways (REFER), and the ends nobody asked for (the
// SBC connection lost, the longest call allowed). InboundCall and OutboundCall add how each starts.
import { randomUUID } from 'node:crypto';
import type { Intent, Logger, MatrixCallEvent } from 'patchbay-matrix/plugin';
import { SessionState, UserAgent, type Core, type Info, type Notification, type Referral, type Session } from 'sip.js';
import type { SipLine } from '../lines/SipLine.js';
import type { NumberPlan } from '../numbers/NumberPlan.js';
import { partyFromSip, type RemoteParty } from '../numbers/RemoteParty.js';
import type { OutboundPolicy } from '../policy/OutboundPolicy.js';
import type { SipCleanup } from '../sip/CleanupMessages.js';
import type { SdpPeer } from '../sip/PassthroughSdh.js';
import { guardSession } from '../sip/SessionGuard.js';
import { duration, type CallOutcome, type HangupReason } from './CallOutcomes.js';
import type { CallRecord, CallRecords } from './CallRecords.js';
import type { CallRegistry } from './CallRegistry.js';
import { CallSignalling, type CallLeg } from './CallSignalling.js';
import { digitOfInfo, dtmfRelayBody, DTMF_EVENT_TYPE } from './Dtmf.js';
import { sdpProblem } from './Sdp.js';

export interface CallSettings {
  ringTimeoutMs: number;
  candidateWaitMs: number;
  negotiateTimeoutMs: number;
  maxCallMs: number;
  maxSdpBytes: number;
}

export interface CallMetrics {
  ended(direction: 'inbound' | 'outbound', outcome: CallOutcome): void;
  setup(direction: 'inbound' | 'outbound', seconds: number): void;
}

/** What a call needs of the bridge. */
export interface CallEnv {
  plan: NumberPlan;
  settings: CallSettings;
  logger: Logger;
  ghost(party: RemoteParty): Promise<Intent>;
  /** A notice in a room, posted once per `key` (through the outbox). */
  notice(roomId: string, key: string, text: string): void;
  registry: CallRegistry<BridgedCall>;
  records: CallRecords;
  metrics: CallMetrics;
  policy: OutboundPolicy;
  /** SIP work for after the line reconnects (a BYE for a call cut off with the connection). */
  afterReconnect(lineId: string, work: () => Promise<void>): void;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

const DTMF_NOTICE_DELAY_MS = 1200;

export abstract class BridgedCall implements SdpPeer {
  readonly id = randomUUID();
  readonly startedAt = Date.now();
  readonly legs: CallLeg[] = [];
  protected readonly signalling: CallSignalling;
  protected readonly log: Logger;
  protected session: Session | null = null;
  /** The leg whose user took the call. */
  protected answered: CallLeg | null = null;
  protected answeredAt: number | null = null;
  protected isEnded = false;
  /** The SIP dialog is confirmed: SDP offers from now on are renegotiations. */
  protected midCall = false;
  /** Inbound: the Matrix answer accept() sends. */
  protected initialAnswer: string | null = null;
  private nextOffer: string | null = null;
  private onSipAnswer: ((sdp: string) => Promise<void>) | null = null;
  private matrixAnswer: Deferred<string> | null = null;
  private maxTimer: NodeJS.Timeout | null = null;
  private dtmfIn = '';
  private dtmfTimer: NodeJS.Timeout | null = null;
  private dtmfChain: Promise<void> = Promise.resolve();

  constructor(
    readonly direction: 'inbound' | 'outbound',
    readonly line: SipLine,
    readonly party: RemoteParty,
    protected readonly env: CallEnv,
  ) {
    this.signalling = new CallSignalling(() => env.ghost(party));
    this.log = env.logger.child({ call: this.id, line: line.id, party: party.id, direction });
  }

  get lineId(): string {
    return this.line.id;
  }

  get ended(): boolean {
    return this.isEnded;
  }

  /** The Matrix user in the call once answered (or the caller of an outbound call). */
  get user(): string | null {
    return this.answered?.userId ?? null;
  }

  // ---- SdpPeer: what sip.js asks of the session's description handler --------------------------------

  async localOffer(): Promise<string> {
    const offer = this.nextOffer;
    this.nextOffer = null;
    if (offer === null) throw new Error('no offer from Matrix to send');
    return offer;
  }

  async remoteAnswer(sdp: string): Promise<void> {
    const handler = this.onSipAnswer;
    this.onSipAnswer = null;
    const problem = sdpProblem(sdp, this.env.settings.maxSdpBytes);
    if (problem) throw new Error(problem);
    await handler?.(sdp);
  }

  async remoteOffer(sdp: string): Promise<void> {
    // The offer of the INVITE itself was handed to Matrix when the call rang.
    if (!this.midCall) return;
    const leg = this.answered;
    const problem = sdpProblem(sdp, this.env.settings.maxSdpBytes);
    if (problem) throw new Error(problem);
    if (!leg || leg.version === 0) throw new Error('a legacy (v0) Matrix call cannot renegotiate');
    this.matrixAnswer = deferred<string>();
    await this.signalling.negotiate(leg, 'offer', sdp, this.env.settings.negotiateTimeoutMs);
  }

  async localAnswer(): Promise<string> {
    const pending = this.matrixAnswer;
    if (pending) {
      const timer = setTimeout(() => pending.reject(new Error('no answer from Matrix to a renegotiation')), this.env.settings.negotiateTimeoutMs);
      try {
        return await pending.promise;
      } finally {
        clearTimeout(timer);
        this.matrixAnswer = null;
      }
    }
    if (this.initialAnswer === null) throw new Error('no answer from Matrix to send');
    return this.initialAnswer;
  }

  // ---- Matrix -> SIP ---------------------------------------------------------------------------------

  /** One m.call.* event of one of this call's legs. */
  async onMatrixCallEvent(event: MatrixCallEvent, leg: CallLeg): Promise<void> {
    if (this.isEnded || leg.state === 'ended') return;
    const c = event.call;
    // After the answer, only the device that took the call speaks for the call (MSC2746).
    if (this.answered === leg && leg.peerPartyId !== null && c.partyId !== null && c.partyId !== leg.peerPartyId) return;
    switch (c.kind) {
      case 'hangup':
      case 'reject':
        return this.matrixHungUp(leg, c.kind, c.reason);
      case 'negotiate':
        if (c.description) this.matrixNegotiate(leg, c.description);
        return;
      default:
        return this.onSetupEvent(event, leg);
    }
  }

  /** Setup-phase events (invite, answer, candidates, select_answer) of the direction. */
  protected abstract onSetupEvent(event: MatrixCallEvent, leg: CallLeg): Promise<void>;

  /** A Matrix leg hung up or rejected before the call was answered. */
  protected abstract unansweredLegEnded(leg: CallLeg, kind: 'hangup' | 'reject', reason: string | undefined): Promise<void>;

  private async matrixHungUp(leg: CallLeg, kind: 'hangup' | 'reject', reason: string | undefined): Promise<void> {
    if (this.answered !== leg || this.answeredAt === null) return this.unansweredLegEnded(leg, kind, reason);
    leg.state = 'ended';
    this.endSip();
    const media = reason === 'ice_failed' || reason === 'ice_timeout' || reason === 'user_media_failed';
    this.noticeAll(`ended`, media ? `📞 The call with ${this.party.displayName} failed: the audio could not connect (${reason}).` : this.endedText());
    this.finish('answered');
  }

  private matrixNegotiate(leg: CallLeg, description: { type: 'offer' | 'answer'; sdp: string }): void {
    if (leg !== this.answered || !this.session) return;
    if (description.type === 'answer') {
      this.matrixAnswer?.resolve(description.sdp);
      return;
    }
    // Glare: the far end's renegotiation is already waiting for Matrix; it goes first.
    if (this.matrixAnswer) {
      this.log.info('Matrix renegotiation crossed one from SIP; SIP goes first');
      return;
    }
    if (sdpProblem(description.sdp, this.env.settings.maxSdpBytes)) return;
    this.reinvite(leg, description.sdp, 1);
  }

  /** The offer the next INVITE or re-INVITE carries, and what to do with the answer SIP gives. */
  protected prepareOffer(sdp: string, onAnswer: (sdp: string) => Promise<void>): void {
    this.nextOffer = sdp;
    this.onSipAnswer = onAnswer;
  }

  private reinvite(leg: CallLeg, sdp: string, attempt: number): void {
    const session = this.session;
    if (!session || this.isEnded || session.state !== SessionState.Established) return;
    this.prepareOffer(sdp, async (answer) => {
      await this.signalling.negotiate(leg, 'answer', answer, this.env.settings.negotiateTimeoutMs);
    });
    const failed = (why: string, status?: number): void => {
      this.nextOffer = null;
      this.onSipAnswer = null;
      // RFC 3261 14.1: after 491, wait a random while (longer for the side that owns the Call-ID) and retry.
      if (status === 491 && attempt < 3) {
        const wait = this.direction === 'outbound' ? 2100 + Math.random() * 1900 : Math.random() * 2000;
        setTimeout(() => this.reinvite(leg, sdp, attempt + 1), wait);
        return;
      }
      this.log.warn({ why }, 'renegotiation with the far end failed');
      this.notice(leg, `renegotiate:${Date.now()}`, `📞 Hold or resume did not reach ${this.party.displayName}: ${why}.`);
    };
    session
      .invite({ requestDelegate: { onReject: (res) => failed(`${res.message.statusCode} ${res.message.reasonPhrase}`, res.message.statusCode) } })
      .catch((err: unknown) => failed(err instanceof Error ? err.message : String(err)));
  }

  /** Digits from the Matrix side, each as one INFO, in order. */
  sendDtmf(digits: string, durationMs = 160): Promise<void> {
    const session = this.session;
    if (!session || !this.answered || this.isEnded) return Promise.reject(new Error('no call is in progress'));
    const run = async (): Promise<void> => {
      for (const digit of digits) {
        await new Promise<void>((resolve, reject) => {
          session
            .info({
              requestDelegate: {
                onAccept: () => resolve(),
                onReject: (res) => reject(new Error(`the far end refused DTMF: ${res.message.statusCode} ${res.message.reasonPhrase}`)),
              },
              requestOptions: { body: { contentDisposition: 'render', contentType: 'application/dtmf-relay', content: dtmfRelayBody(digit, durationMs) } },
            })
            .catch(reject);
        });
      }
    };
    this.dtmfChain = this.dtmfChain.then(run, run);
    return this.dtmfChain;
  }

  /** Blind transfer of the far end to `target` (REFER). Resolves with what to tell the user. */
  transfer(target: RemoteParty, targetUri: string): Promise<string> {
    const session = this.session;
    const leg = this.answered;
    if (!session || !leg || this.isEnded) return Promise.resolve('No call is in progress.');
    const uri = UserAgent.makeURI(targetUri);
    if (!uri) return Promise.resolve(`${target.displayName} cannot be dialled.`);
    return new Promise((resolve) => {
      session
        .refer(uri, {
          requestDelegate: {
            onAccept: () => resolve(`📞 Transferring ${this.party.displayName} to ${target.displayName}…`),
            onReject: (res) => resolve(`📞 ${this.party.displayName} refused the transfer: ${res.message.statusCode} ${res.message.reasonPhrase}.`),
          },
          onNotify: (notification) => this.transferProgress(notification, target, leg),
        })
        .catch((err: unknown) => resolve(`📞 The transfer failed: ${err instanceof Error ? err.message : String(err)}.`));
    });
  }

  private transferProgress(notification: Notification, target: RemoteParty, leg: CallLeg): void {
    notification.accept().catch(() => undefined);
    const status = Number(/^SIP\/2\.0 (\d{3})/.exec(notification.request.body ?? '')?.[1] ?? 0);
    if (status < 200 || this.isEnded) return;
    if (status < 300) {
      this.endSip();
      this.signalling.hangup(leg, 'user_hangup').catch(() => undefined);
      leg.state = 'ended';
      this.noticeAll('ended', `📞 ${this.party.displayName} was transferred to ${target.displayName} (after ${this.talkTime()}).`);
      this.finish('answered');
    } else {
      this.notice(leg, `transfer:${Date.now()}`, `📞 The transfer to ${target.displayName} failed: ${status}.`);
    }
  }

  // ---- SIP -> Matrix ---------------------------------------------------------------------------------

  /** Wires the session's in-dialog requests to this call. */
  protected attach(session: Session): void {
    this.session = session;
    this.env.registry.bind(session, this);
    guardSession(session, this.log, () => {
      if (session === this.session) this.sipHungUp();
    });
    session.delegate = {
      onBye: (bye) => {
        // A delegate's onBye must answer the BYE itself (sip.js sends the 200 only when there is none).
        bye.accept().catch(() => undefined);
        if (session === this.session) this.sipHungUp();
      },
      onInfo: (info) => this.onInfo(session, info),
      onRefer: (referral) => this.onRefer(session, referral),
    };
  }

  /** The far end hung up an answered call. */
  protected sipHungUp(): void {
    if (this.isEnded) return;
    const leg = this.answered;
    if (leg) {
      leg.state = 'ended';
      this.signalling.hangup(leg, 'user_hangup').catch((err: unknown) => this.log.warn({ err }, 'could not send the hangup to Matrix'));
    }
    this.noticeAll('ended', this.endedText());
    this.finish('answered');
  }

  private onInfo(session: Session, info: Info): void {
    const digit = digitOfInfo(info.request.getHeader('content-type'), info.request.body);
    if (digit === null) {
      info.reject({ statusCode: 415 }).catch(() => undefined);
      return;
    }
    info.accept().catch(() => undefined);
    const leg = this.answered;
    if (!leg || session !== this.session) return;
    this.env
      .ghost(this.party)
      .then((ghost) => ghost.sendEvent(leg.roomId, DTMF_EVENT_TYPE, { call_id: leg.callId, party_id: leg.partyId, version: leg.version === 0 ? 0 : '1', digits: digit }))
      .catch((err: unknown) => this.log.warn({ err }, 'could not send DTMF to Matrix'));
    this.dtmfIn += digit;
    if (this.dtmfTimer) clearTimeout(this.dtmfTimer);
    this.dtmfTimer = setTimeout(() => this.flushDtmf(), DTMF_NOTICE_DELAY_MS);
  }

  private flushDtmf(): void {
    this.dtmfTimer = null;
    const digits = this.dtmfIn;
    this.dtmfIn = '';
    const leg = this.answered;
    if (leg && digits !== '') this.notice(leg, `dtmf:${Date.now()}`, `🔢 ${this.party.displayName} pressed ${digits.split('').join(' ')}`);
  }

  /** The far end transfers the call (blind): the bridge calls the target and connects it to the Matrix user. */
  private onRefer(session: Session, referral: Referral): void {
    const leg = this.answered;
    const uri = referral.referTo.uri;
    const target = partyFromSip(this.env.plan, uri.user, uri.host + (uri.port ? `:${uri.port}` : ''), referral.referTo.displayName);
    if (!leg || session !== this.session || !target) {
      referral.reject({ statusCode: 400 }).catch(() => undefined);
      return;
    }
    const verdict = this.env.policy.check(leg.userId, target, this.line.settings.owner === leg.userId);
    if (!verdict.ok) {
      referral.reject({ statusCode: 603 }).catch(() => undefined);
      this.notice(leg, `refer:${Date.now()}`, `📞 ${this.party.displayName} tried to transfer you to ${target.displayName}; refused: ${verdict.reason}.`);
      return;
    }
    referral.accept().catch(() => undefined);
    this.notice(leg, `refer:${Date.now()}`, `📞 ${this.party.displayName} is transferring you to ${target.displayName}…`);
    const inviter = referral.makeInviter({ inviteWithoutSdp: true });
    this.env.registry.bind(inviter, this);
    inviter.delegate = {
      onBye: (bye) => {
        // A delegate's onBye must answer the BYE itself (sip.js sends the 200 only when there is none).
        bye.accept().catch(() => undefined);
        if (inviter === this.session) this.sipHungUp();
      },
      onInfo: (info) => this.onInfo(inviter, info),
      onRefer: (r) => this.onRefer(inviter, r),
    };
    inviter
      .invite({
        requestDelegate: {
          onAccept: () => {
            const old = this.session;
            this.session = inviter;
            if (old && old.state === SessionState.Established) old.bye().catch(() => undefined);
            this.saveRecord();
            this.notice(leg, `refer-done:${Date.now()}`, `📞 Now connected to ${target.displayName}.`);
          },
          onReject: (res) => this.notice(leg, `refer-failed:${Date.now()}`, `📞 The transfer to ${target.displayName} failed: ${res.message.statusCode} ${res.message.reasonPhrase}.`),
        },
      })
      .catch((err: unknown) => this.log.warn({ err }, 'could not follow a transfer'));
  }

  // ---- ends ------------------------------------------------------------------------------------------

  /** The SBC connection dropped: the Matrix side hears it now, the far end gets its BYE once it is back. */
  connectionLost(): void {
    if (this.isEnded) return;
    for (const leg of this.legs) {
      if (leg.state === 'ended') continue;
      leg.state = 'ended';
      this.signalling.hangup(leg, 'unknown_error').catch(() => undefined);
      this.notice(leg, 'ended', `📞 The call with ${this.party.displayName} was cut off: the connection to the phone network was lost.`);
    }
    const session = this.session;
    if (session) this.env.afterReconnect(this.line.id, () => endSession(session, { statusCode: 480, reasonPhrase: 'Temporarily Unavailable' }));
    this.finish('failed');
  }

  /** Hangs up both sides because the bridge stops or the call ran too long. */
  shutDown(why: string, reason: HangupReason = 'user_hangup'): void {
    if (this.isEnded) return;
    for (const leg of this.legs) {
      if (leg.state === 'ended') continue;
      leg.state = 'ended';
      this.signalling.hangup(leg, reason).catch(() => undefined);
      this.notice(leg, 'ended', `📞 The call with ${this.party.displayName} ended: ${why}.`);
    }
    this.endSip();
    this.finish(this.answeredAt === null ? 'failed' : 'answered');
  }

  /** Ends the SIP session as its state allows: BYE, CANCEL, or `status` to a ringing INVITE. */
  protected endSip(status = { statusCode: 480, reasonPhrase: 'Temporarily Unavailable' }): void {
    const session = this.session;
    if (!session) return;
    endSession(session, status).catch((err: unknown) => this.log.debug({ err }, 'ending the SIP session failed'));
  }

  /** The confirmed dialog of the session, as a restart needs it to send BYE. */
  protected dialogRecord(): SipCleanup | null {
    // The API types the dialog by its session face; it is the core's SessionDialog (RFC 3261 state).
    const dialog = this.session?.dialog as Core.SessionDialog | undefined;
    if (this.answeredAt === null || !dialog) return null;
    return {
      kind: 'dialog',
      callId: dialog.callId,
      localTag: dialog.localTag,
      remoteTag: dialog.remoteTag,
      localSequence: dialog.localSequenceNumber ?? 1,
      localUri: dialog.localURI.toString(),
      remoteUri: dialog.remoteURI.toString(),
      remoteTarget: dialog.remoteTarget.toString(),
      routeSet: dialog.routeSet,
    };
  }

  /** The call is over: timers stopped, forgotten by the registry and the store, counted. */
  protected finish(outcome: CallOutcome): void {
    if (this.isEnded) return;
    this.isEnded = true;
    if (this.maxTimer) clearTimeout(this.maxTimer);
    if (this.dtmfTimer) {
      clearTimeout(this.dtmfTimer);
      this.flushDtmf();
    }
    this.matrixAnswer?.reject(new Error('the call ended'));
    for (const leg of this.legs) leg.state = 'ended';
    this.env.registry.remove(this);
    void this.env.records.delete(this.id);
    this.env.metrics.ended(this.direction, outcome);
    this.log.info({ outcome, talk_ms: this.answeredAt === null ? 0 : Date.now() - this.answeredAt }, 'call ended');
  }

  /** The call is answered on both sides. */
  protected established(leg: CallLeg): void {
    this.answered = leg;
    leg.state = 'answered';
    this.answeredAt = Date.now();
    this.midCall = true;
    this.env.metrics.setup(this.direction, (this.answeredAt - this.startedAt) / 1000);
    this.maxTimer = setTimeout(() => this.shutDown(`it reached the longest call allowed (${duration(this.env.settings.maxCallMs)})`), this.env.settings.maxCallMs);
    this.maxTimer.unref?.();
    this.saveRecord();
  }

  protected saveRecord(): void {
    const record: CallRecord = {
      id: this.id,
      lineId: this.line.id,
      direction: this.direction,
      partyId: this.party.id,
      partyName: this.party.displayName,
      legs: this.legs.map(({ userId, roomId, callId, partyId, version }) => ({ userId, roomId, callId, partyId, version })),
      sip: this.sipCleanup(),
      startedAt: this.startedAt,
    };
    void this.env.records.save(record);
  }

  /** What ends the SIP side after a restart, as things stand. */
  protected abstract sipCleanup(): SipCleanup | null;

  protected notice(leg: CallLeg, key: string, text: string): void {
    this.env.notice(leg.roomId, `call:${this.id}:${leg.callId}:${key}`, text);
  }

  protected noticeAll(key: string, text: string): void {
    const leg = this.answered;
    if (leg) this.notice(leg, key, text);
  }

  protected talkTime(): string {
    return duration(this.answeredAt === null ? 0 : Date.now() - this.answeredAt);
  }

  private endedText(): string {
    return `📞 Call ${this.direction === 'inbound' ? 'from' : 'with'} ${this.party.displayName} ended after ${this.talkTime()}.`;
  }
}

/** BYE when established, CANCEL or a final response before. */
export async function endSession(session: Session, status: { statusCode: number; reasonPhrase: string }): Promise<void> {
  const s = session as Session & { cancel?: () => Promise<void>; reject?: (o: { statusCode: number; reasonPhrase: string }) => Promise<void> };
  switch (session.state) {
    case SessionState.Established:
      await session.bye();
      return;
    case SessionState.Initial:
    case SessionState.Establishing:
      if (typeof s.cancel === 'function') await s.cancel();
      else if (typeof s.reject === 'function') await s.reject(status);
      return;
    default:
      return;
  }
}
