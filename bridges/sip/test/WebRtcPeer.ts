// The Matrix user's media in the tests: a real WebRTC peer (werift 0.22: ICE, DTLS-SRTP) on loopback,
// sending a G.711 tone and recording what it hears, so a test can check that audio crossed the SBC both
// ways. werift's quirks (see sip-facts): it asks a public STUN server even with no ICE servers (a 5 s
// stall), so its STUN server is cleared; it has no Opus encoder, so it offers PCMU only.
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket, type RTCRtpTransceiver } from 'werift';
import { muLawDecode, tonePacket, toneRatio } from './Tone.js';

const DTMF_PT = 101;
const DTMF_CODES = '0123456789*#ABCD';

export class WebRtcPeer {
  readonly pc: RTCPeerConnection;
  private readonly track = new MediaStreamTrack({ kind: 'audio' });
  private readonly transceiver: RTCRtpTransceiver;
  private toneTimer: NodeJS.Timeout | null = null;
  private sequence = 0;
  private timestamp = 0;
  /** The last 2 s of what it heard, as samples. */
  private heard: number[] = [];
  private lastDtmfTimestamp = -1;
  packetsReceived = 0;
  /** RFC 4733 digits it received, in order. */
  dtmfReceived = '';

  constructor(private readonly toneHz: number) {
    this.pc = new RTCPeerConnection({
      iceServers: [],
      iceUseIpv4: false,
      iceUseIpv6: false,
      iceAdditionalHostAddresses: ['127.0.0.1'],
      iceInterfaceAddresses: { udp4: '127.0.0.1' },
      codecs: {
        audio: [
          new RTCRtpCodecParameters({ mimeType: 'audio/PCMU', clockRate: 8000, channels: 1, payloadType: 0 }),
          new RTCRtpCodecParameters({ mimeType: 'audio/telephone-event', clockRate: 8000, channels: 1, payloadType: DTMF_PT }),
        ],
      },
    });
    this.transceiver = this.pc.addTransceiver(this.track, { direction: 'sendrecv' });
    this.transceiver.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => this.received(rtp));
    });
    this.clearStun();
  }

  get connected(): boolean {
    return this.pc.connectionState === 'connected';
  }

  async offer(): Promise<string> {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    this.clearStun();
    return this.pc.localDescription!.sdp;
  }

  /**
   * Answers an offer. To an `actpass` offer it answers `passive`: werift as DTLS client stalls about one
   * handshake in six, as DTLS server it connects every time (after about 1.5 s: it drops the first
   * ClientHello). A stall that happens anyway is caught by waitConnected().
   */
  async answer(offer: string): Promise<string> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offer });
    this.clearStun();
    const answer = await this.pc.createAnswer();
    const sdp = /a=setup:actpass/.test(offer) ? answer.sdp.replace(/a=setup:active/g, 'a=setup:passive') : answer.sdp;
    await this.pc.setLocalDescription({ type: 'answer', sdp });
    return this.pc.localDescription!.sdp;
  }

  async accept(answer: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
  }

  /** A renegotiation offer with the audio now going `direction` (sendonly holds the other side). */
  async reoffer(direction: 'sendonly' | 'sendrecv' | 'inactive'): Promise<string> {
    this.transceiver.setDirection(direction);
    return this.offer();
  }

  /** Its current direction as the last answer settled it. */
  get direction(): string {
    return this.transceiver.currentDirection ?? this.transceiver.direction;
  }

  /** Resolves true once ICE and DTLS are up; false when they stall (a retry is the caller's). */
  async waitConnected(timeoutMs = 8000): Promise<boolean> {
    if (this.connected) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        sub.unSubscribe();
        resolve(false);
      }, timeoutMs);
      const sub = this.pc.connectionStateChange.subscribe((state) => {
        if (state === 'connected') {
          clearTimeout(timer);
          sub.unSubscribe();
          resolve(true);
        }
      });
    });
  }

  startTone(): void {
    if (this.toneTimer) return;
    this.toneTimer = setInterval(() => {
      const header = new RtpHeader({ payloadType: 0, sequenceNumber: this.sequence++ & 0xffff, timestamp: this.timestamp, ssrc: 0x50b0, marker: false });
      this.track.writeRtp(new RtpPacket(header, tonePacket(this.toneHz, this.timestamp)));
      this.timestamp = (this.timestamp + 160) >>> 0;
    }, 20);
  }

  stopTone(): void {
    if (this.toneTimer) clearInterval(this.toneTimer);
    this.toneTimer = null;
  }

  /** How much of `hz` the last second it heard holds (0..1). */
  heardTone(hz: number): number {
    return toneRatio(this.heard.slice(-8000), hz);
  }

  async close(): Promise<void> {
    this.stopTone();
    await this.pc.close().catch(() => undefined);
  }

  private received(rtp: RtpPacket): void {
    this.packetsReceived++;
    if (rtp.header.payloadType === 0) {
      for (const byte of rtp.payload) this.heard.push(muLawDecode(byte));
      if (this.heard.length > 16000) this.heard = this.heard.slice(-16000);
    } else if (rtp.header.payloadType === DTMF_PT && rtp.payload.length >= 4) {
      // One digit per event: its packets share a timestamp (RFC 4733).
      if (rtp.header.timestamp === this.lastDtmfTimestamp) return;
      this.lastDtmfTimestamp = rtp.header.timestamp;
      this.dtmfReceived += DTMF_CODES[rtp.payload[0]!] ?? '?';
    }
  }

  private clearStun(): void {
    for (const t of this.pc.iceTransports) {
      const connection = (t as unknown as { connection?: { stunServer?: unknown } }).connection;
      if (connection) connection.stunServer = undefined;
    }
  }
}
