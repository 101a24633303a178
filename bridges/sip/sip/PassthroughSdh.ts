// sip.js asks a SessionDescriptionHandler for every SDP it sends and hands it every SDP it receives. The
// bridge has no media of its own: its handler passes session descriptions between the SIP dialog and the
// Matrix call (the SBC converts WebRTC to plain RTP), keeping track of which side made the offer.
import type { BodyAndContentType, SessionDescriptionHandler } from 'sip.js';

/** The Matrix side of one SIP session's offer/answer exchanges. */
export interface SdpPeer {
  /** An offer for SIP (an INVITE, a re-INVITE): the Matrix client's. */
  localOffer(): Promise<string>;
  /** An answer to the offer SIP sent last. */
  localAnswer(): Promise<string>;
  /** SIP's offer (an INVITE, a re-INVITE, or the 200 of an INVITE without SDP). */
  remoteOffer(sdp: string): Promise<void>;
  /** SIP's answer to our offer. */
  remoteAnswer(sdp: string): Promise<void>;
}

export class PassthroughSdh implements SessionDescriptionHandler {
  /** True between an offer we sent and the answer to it. */
  private offered = false;
  /** True between SIP's offer and the answer we give it. */
  private remoteOfferPending = false;

  constructor(private readonly peer: SdpPeer) {}

  async getDescription(): Promise<BodyAndContentType> {
    if (this.remoteOfferPending) {
      this.remoteOfferPending = false;
      return { body: await this.peer.localAnswer(), contentType: 'application/sdp' };
    }
    const body = await this.peer.localOffer();
    this.offered = true;
    return { body, contentType: 'application/sdp' };
  }

  async setDescription(sdp: string): Promise<void> {
    if (this.offered) {
      this.offered = false;
      await this.peer.remoteAnswer(sdp);
      return;
    }
    this.remoteOfferPending = true;
    await this.peer.remoteOffer(sdp);
  }

  /** Rolls back an offer SIP refused (a re-INVITE answered 491 or 488). */
  async rollbackDescription(): Promise<void> {
    this.offered = false;
    this.remoteOfferPending = false;
  }

  hasDescription(contentType: string): boolean {
    return contentType === 'application/sdp';
  }

  /** DTMF goes as SIP INFO (the bridge carries no media to put RFC 4733 events in). */
  sendDtmf(): boolean {
    return false;
  }

  close(): void {
    this.offered = false;
    this.remoteOfferPending = false;
  }
}
