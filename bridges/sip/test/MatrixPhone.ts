// A Matrix user making and taking calls in the tests: matrix-js-sdk for the signalling (its sync brings
// the m.call.* events, it sends them) and a WebRtcPeer per call for the media, following MSC2746 (VoIP
// v1) as a client does: party ids, answers, rejects, hangups, renegotiation, trickled candidates.
import { randomBytes } from 'node:crypto';
import * as sdk from 'matrix-js-sdk';
import { startSdkClient } from '../../../test/harness/sdkClient.js';
import type { TestUser } from '../../../testkit/testUsers.js';
import { WebRtcPeer } from './WebRtcPeer.js';

export interface CallEvent {
  eventId: string;
  roomId: string;
  type: string;
  sender: string;
  content: Record<string, unknown>;
}

export class MatrixPhone {
  private readonly events: CallEvent[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly calls = new Set<PhoneCall>();

  private constructor(
    readonly client: sdk.MatrixClient,
    readonly user: TestUser,
    /** This client's party id (one device). */
    readonly partyId: string,
  ) {
    client.on(sdk.RoomEvent.Timeline, (event, room, toStartOfTimeline) => {
      if (toStartOfTimeline || !room) return;
      const e: CallEvent = { eventId: event.getId() ?? '', roomId: room.roomId, type: event.getType(), sender: event.getSender() ?? '', content: event.getContent() };
      this.events.push(e);
      for (const call of this.calls) call.onEvent(e);
      for (const w of [...this.waiters]) w();
    });
    // A person accepts the DM a number opens for them; calls in it ring once they are in.
    client.on(sdk.RoomMemberEvent.Membership, (_event, member) => {
      if (member.userId === client.getUserId() && member.membership === 'invite') void client.joinRoom(member.roomId).catch(() => undefined);
    });
  }

  static async start(homeserverUrl: string, user: TestUser): Promise<MatrixPhone> {
    const client = await startSdkClient(homeserverUrl, user, { initialSyncLimit: 0 });
    return new MatrixPhone(client, user, `dev${randomBytes(4).toString('hex')}`);
  }

  get userId(): string {
    return this.user.userId;
  }

  stop(): void {
    for (const call of this.calls) void call.peer.close();
    this.client.stopClient();
  }

  /** The first event (from `from` on) that matches, within `timeoutMs`. */
  async event(predicate: (e: CallEvent) => boolean, timeoutMs = 20_000, from = 0): Promise<CallEvent> {
    let found: CallEvent | undefined;
    const check = (): boolean => (found = this.events.slice(from).find(predicate)) !== undefined;
    if (check()) return found!;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        reject(new Error(`${this.userId}: no matching event within ${timeoutMs} ms; seen: ${this.events.slice(-8).map((e) => `${e.type}:${JSON.stringify(e.content).slice(0, 80)}`).join(' | ')}`));
      }, timeoutMs);
      const wake = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      this.waiters.add(wake);
    });
    return found!;
  }

  get mark(): number {
    return this.events.length;
  }

  /** A notice from the bridge in `roomId` whose body matches. */
  notice(roomId: string, pattern: RegExp, timeoutMs = 20_000, from = 0): Promise<CallEvent> {
    return this.event((e) => e.roomId === roomId && e.type === 'm.room.message' && e.content.msgtype === 'm.notice' && pattern.test(String(e.content.body)), timeoutMs, from);
  }

  async send(roomId: string, type: string, content: Record<string, unknown>): Promise<string> {
    const res = await (this.client as unknown as { sendEvent(r: string, t: string, c: Record<string, unknown>): Promise<{ event_id: string }> }).sendEvent(roomId, type, content);
    return res.event_id;
  }

  /** The next call offered to this user (an m.call.invite from someone else), ready to answer. */
  async incoming(options: { roomId?: string; from?: number; timeoutMs?: number; toneHz?: number } = {}): Promise<PhoneCall> {
    const invite = await this.event(
      (e) => e.type === 'm.call.invite' && e.sender !== this.userId && (options.roomId === undefined || e.roomId === options.roomId),
      options.timeoutMs ?? 20_000,
      options.from ?? 0,
    );
    const c = invite.content;
    const call = new PhoneCall(this, invite.roomId, String(c.call_id), c.version === 0 ? 0 : '1', options.toneHz ?? 1000);
    call.remotePartyId = typeof c.party_id === 'string' ? c.party_id : null;
    call.offer = (c.offer as { sdp: string }).sdp;
    call.inviteEvent = invite;
    this.track(call);
    return call;
  }

  /** Places a call in `roomId` (to the ghost there). `trickle` sends the candidates separately, as browsers do. */
  async call(roomId: string, options: { version?: 0 | '1'; trickle?: boolean; toneHz?: number; invitee?: string; lifetime?: number } = {}): Promise<PhoneCall> {
    const version = options.version ?? '1';
    const call = new PhoneCall(this, roomId, `c${Date.now()}${randomBytes(4).toString('hex')}`, version, options.toneHz ?? 1000);
    this.track(call);
    const sdp = await call.peer.offer();
    const trickle = options.trickle ?? true;
    const offer = trickle ? sdp.split('\r\n').filter((l) => !l.startsWith('a=candidate:') && l !== 'a=end-of-candidates').join('\r\n') : sdp;
    await call.sendCall('m.call.invite', {
      offer: { type: 'offer', sdp: offer },
      lifetime: options.lifetime ?? 60_000,
      ...(options.invitee !== undefined && version === '1' && { invitee: options.invitee }),
    });
    if (trickle) {
      const lines = sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:'));
      await call.sendCall('m.call.candidates', {
        candidates: [...lines.map((l) => ({ candidate: l.slice(2), sdpMid: '0', sdpMLineIndex: 0 })), { candidate: '', sdpMid: '0', sdpMLineIndex: 0 }],
      });
    }
    return call;
  }

  private track(call: PhoneCall): void {
    this.calls.add(call);
  }
}

/** One call as this client sees it. */
export class PhoneCall {
  readonly peer: WebRtcPeer;
  remotePartyId: string | null = null;
  offer = '';
  inviteEvent: CallEvent | null = null;
  /** Hang up and select_answer events of this call that reached the client. */
  readonly seen: CallEvent[] = [];
  private renegotiations: Promise<void> = Promise.resolve();

  constructor(
    private readonly phone: MatrixPhone,
    readonly roomId: string,
    readonly callId: string,
    readonly version: 0 | '1',
    toneHz: number,
  ) {
    this.peer = new WebRtcPeer(toneHz);
  }

  sendCall(type: string, content: Record<string, unknown>): Promise<string> {
    const base = this.version === '1' ? { call_id: this.callId, party_id: this.phone.partyId, version: '1' } : { call_id: this.callId, version: 0 };
    return this.phone.send(this.roomId, type, { ...base, ...content });
  }

  /** Answers an incoming call (the media starts connecting). */
  async answer(): Promise<void> {
    const sdp = await this.peer.answer(this.offer);
    await this.sendCall('m.call.answer', { answer: { type: 'answer', sdp } });
  }

  reject(): Promise<string> {
    return this.sendCall('m.call.reject', {});
  }

  hangup(reason = 'user_hangup'): Promise<string> {
    return this.sendCall('m.call.hangup', { reason });
  }

  /** Waits for the far end's answer (an outgoing call) and applies it. */
  async answered(timeoutMs = 20_000): Promise<CallEvent> {
    const answer = await this.phone.event((e) => e.roomId === this.roomId && e.type === 'm.call.answer' && e.content.call_id === this.callId && e.sender !== this.phone.userId, timeoutMs);
    this.remotePartyId = typeof answer.content.party_id === 'string' ? answer.content.party_id : null;
    await this.peer.accept((answer.content.answer as { sdp: string }).sdp);
    return answer;
  }

  /** The far end's event of `type` for this call. */
  ended(type: 'm.call.hangup' | 'm.call.reject' | 'm.call.select_answer' = 'm.call.hangup', timeoutMs = 20_000): Promise<CallEvent> {
    return this.phone.event((e) => e.roomId === this.roomId && e.type === type && e.content.call_id === this.callId && e.sender !== this.phone.userId, timeoutMs);
  }

  /** Holds (sendonly) or resumes (sendrecv) from the Matrix side: a negotiate offer, then its answer. */
  async renegotiate(direction: 'sendonly' | 'sendrecv'): Promise<void> {
    const from = this.phone.mark;
    const sdp = await this.peer.reoffer(direction);
    await this.sendCall('m.call.negotiate', { description: { type: 'offer', sdp }, lifetime: 10_000 });
    const answer = await this.phone.event(
      (e) => e.roomId === this.roomId && e.type === 'm.call.negotiate' && e.content.call_id === this.callId && (e.content.description as { type?: string }).type === 'answer',
      20_000,
      from,
    );
    await this.peer.accept((answer.content.description as { sdp: string }).sdp);
  }

  /** Events of this call from the far end: renegotiation offers are answered as a client would. */
  onEvent(e: CallEvent): void {
    if (e.roomId !== this.roomId || e.content.call_id !== this.callId || e.sender === this.phone.userId) return;
    this.seen.push(e);
    const description = e.content.description as { type?: string; sdp?: string } | undefined;
    if (e.type === 'm.call.negotiate' && description?.type === 'offer' && typeof description.sdp === 'string') {
      const offer = description.sdp;
      this.renegotiations = this.renegotiations.then(async () => {
        const sdp = await this.peer.answer(offer);
        await this.sendCall('m.call.negotiate', { description: { type: 'answer', sdp } });
      }).catch(() => undefined);
    }
  }
}
