// The calls this process runs, found by what arrives: a Matrix call event by its room and call id, a SIP
// session's SDP exchange by the session. Ended legs are remembered for a while, so a late candidate or a
// repeated hangup of a finished call is recognised and dropped.
import type { Session } from 'sip.js';
import type { SdpPeer } from '../sip/PassthroughSdh.js';
import type { CallLeg } from './CallSignalling.js';

/** What the registry needs of a call. */
export interface RegisteredCall {
  readonly id: string;
  readonly lineId: string;
  readonly legs: readonly CallLeg[];
}

const ENDED_KEPT = 2000;

export class CallRegistry<C extends RegisteredCall = RegisteredCall> {
  private readonly calls = new Set<C>();
  private readonly byLeg = new Map<string, C>();
  private readonly peers = new WeakMap<Session, SdpPeer>();
  private readonly ended = new Set<string>();

  add(call: C): void {
    this.calls.add(call);
    for (const leg of call.legs) this.addLeg(call, leg);
  }

  addLeg(call: C, leg: CallLeg): void {
    this.byLeg.set(key(leg.roomId, leg.callId), call);
  }

  remove(call: C): void {
    this.calls.delete(call);
    for (const leg of call.legs) {
      const k = key(leg.roomId, leg.callId);
      if (this.byLeg.get(k) === call) this.byLeg.delete(k);
      this.ended.add(k);
    }
    // Oldest first: a Set iterates in insertion order.
    for (const k of this.ended) {
      if (this.ended.size <= ENDED_KEPT) break;
      this.ended.delete(k);
    }
  }

  callFor(roomId: string, callId: string): C | undefined {
    return this.byLeg.get(key(roomId, callId));
  }

  /** A call this process ran and ended recently. */
  hasEnded(roomId: string, callId: string): boolean {
    return this.ended.has(key(roomId, callId));
  }

  bind(session: Session, peer: SdpPeer): void {
    this.peers.set(session, peer);
  }

  peerFor(session: Session): SdpPeer | undefined {
    return this.peers.get(session);
  }

  all(): C[] {
    return [...this.calls];
  }

  onLine(lineId: string): C[] {
    return this.all().filter((c) => c.lineId === lineId);
  }

  /** Calls `userId` takes part in (for the per-user limit). */
  countFor(userId: string): number {
    let n = 0;
    for (const c of this.calls) if (c.legs.some((l) => l.userId === userId && l.state !== 'ended')) n++;
    return n;
  }

  get size(): number {
    return this.calls.size;
  }
}

function key(roomId: string, callId: string): string {
  return `${roomId}\u0000${callId}`;
}
