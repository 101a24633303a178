// A SIP peer that writes its requests by hand, over UDP: for what no real phone sends (malformed requests,
// garbage SDP, oversized headers) and for the benchmark's many parallel calls. It answers the requests
// it gets inside its dialogs (BYE) with 200, ACKs final responses to its INVITEs, and collects every
// response by Call-ID.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';

export interface RawResponse {
  status: number;
  reason: string;
  raw: string;
  headers: Map<string, string>;
  body: string;
}

export interface RawInviteOptions {
  to: string;
  fromUser: string;
  fromDomain?: string;
  /** Overrides the From header line entirely (for malformed ones). */
  fromLine?: string;
  sdp?: string;
  extraHeaders?: string[];
  callId?: string;
  /** false: never ACK this INVITE's 2xx (a peer that lost it, or a broken one). */
  ack?: boolean;
}

/** A plain RTP offer (what a phone sends), for a port nobody listens on. */
export function plainOffer(port: number): string {
  return ['v=0', `o=- ${port} 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', ''].join('\r\n');
}

export class RawSip {
  private socket: Socket | null = null;
  private port = 0;
  private readonly responses = new Map<string, RawResponse[]>();
  private readonly waiters = new Set<() => void>();
  /** Requests it received (BYE, ...), by Call-ID. */
  readonly requests = new Map<string, string[]>();
  /** The request URI of each INVITE it sent (a non-2xx ACK repeats it). */
  private readonly inviteUris = new Map<string, string>();
  /** Calls whose 2xx is never ACKed. */
  private readonly withoutAck = new Set<string>();

  constructor(private readonly proxy: { host: string; port: number }) {}

  async start(): Promise<void> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    this.port = socket.address().port;
    socket.on('message', (msg) => this.received(msg.toString('utf8')));
    this.socket = socket;
  }

  stop(): void {
    this.socket?.close();
    this.socket = null;
  }

  get localPort(): number {
    return this.port;
  }

  /** Sends an INVITE (or anything else when `raw` is given) and returns its Call-ID. */
  invite(options: RawInviteOptions): string {
    const callId = options.callId ?? `raw-${randomBytes(6).toString('hex')}`;
    if (options.ack === false) this.withoutAck.add(callId);
    const sdp = options.sdp ?? plainOffer(40000 + Math.floor(Math.random() * 10000) * 2);
    const domain = options.fromDomain ?? 'sip.test';
    const lines = [
      `INVITE ${options.to} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.port};rport;branch=z9hG4bK${randomBytes(6).toString('hex')}`,
      'Max-Forwards: 70',
      options.fromLine ?? `From: <sip:${options.fromUser}@${domain}>;tag=${randomBytes(4).toString('hex')}`,
      `To: <${options.to}>`,
      `Call-ID: ${callId}`,
      'CSeq: 1 INVITE',
      `Contact: <sip:${options.fromUser}@127.0.0.1:${this.port}>`,
      ...(options.extraHeaders ?? []),
      'Content-Type: application/sdp',
      `Content-Length: ${Buffer.byteLength(sdp)}`,
      '',
      sdp,
    ];
    this.inviteUris.set(callId, options.to);
    this.sendRaw(lines.join('\r\n'));
    return callId;
  }

  /** BYE for an answered INVITE, along the Record-Route of its 200 (reversed: the caller's route set, RFC 3261 12.1.2). */
  bye(callId: string): void {
    const ok = (this.responses.get(callId) ?? []).find((r) => r.status === 200);
    if (!ok) throw new Error(`no 200 for ${callId}`);
    const routes = ok.raw.split('\r\n').filter((l) => /^record-route:/i.test(l)).map((l) => l.replace(/^record-route:\s*/i, '')).reverse();
    const contact = /<([^>]+)>/.exec(ok.headers.get('contact') ?? '')?.[1] ?? '';
    this.sendRaw([
      `BYE ${contact} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.port};rport;branch=z9hG4bK${randomBytes(6).toString('hex')}`,
      'Max-Forwards: 70',
      ...routes.map((r) => `Route: ${r}`),
      `From: ${ok.headers.get('from')}`,
      `To: ${ok.headers.get('to')}`,
      `Call-ID: ${callId}`,
      'CSeq: 2 BYE',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'));
  }

  sendRaw(message: string): void {
    this.socket?.send(message, this.proxy.port, this.proxy.host);
  }

  /** The first final response (>= 200) to `callId`, within `timeoutMs`. */
  async final(callId: string, timeoutMs = 15_000): Promise<RawResponse> {
    return this.until(() => (this.responses.get(callId) ?? []).find((r) => r.status >= 200), timeoutMs, `a final response to ${callId}`);
  }

  /** All responses to `callId` so far (provisional ones included). */
  responsesTo(callId: string): RawResponse[] {
    return this.responses.get(callId) ?? [];
  }

  async request(callId: string, method: string, timeoutMs = 15_000): Promise<string> {
    return this.until(() => (this.requests.get(callId) ?? []).find((r) => r.startsWith(`${method} `)), timeoutMs, `a ${method} for ${callId}`);
  }

  private received(raw: string): void {
    const head = raw.split('\r\n\r\n')[0] ?? '';
    const lines = head.split('\r\n');
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const m = /^([A-Za-z-]+)\s*:\s*(.*)$/.exec(line);
      if (m && !headers.has(m[1]!.toLowerCase())) headers.set(m[1]!.toLowerCase(), m[2]!);
    }
    const callId = headers.get('call-id') ?? headers.get('i') ?? '';
    const status = /^SIP\/2\.0 (\d{3}) (.*)$/.exec(lines[0] ?? '');
    if (status) {
      const response: RawResponse = { status: Number(status[1]), reason: status[2]!, raw, headers, body: raw.slice(head.length + 4) };
      this.responses.set(callId, [...(this.responses.get(callId) ?? []), response]);
      if (response.status >= 200 && /INVITE/.test(headers.get('cseq') ?? '') && !(response.status < 300 && this.withoutAck.has(callId))) this.ack(response, callId);
    } else {
      this.requests.set(callId, [...(this.requests.get(callId) ?? []), raw]);
      if (!raw.startsWith('ACK ')) this.answer(lines, 200, 'OK');
    }
    for (const w of [...this.waiters]) w();
  }

  private ack(response: RawResponse, callId: string): void {
    const via = response.raw.split('\r\n').find((l) => /^via:/i.test(l)) ?? '';
    if (response.status >= 300) {
      // A non-2xx ACK belongs to the INVITE's transaction: same branch, To with the response's tag.
      this.sendRaw([`ACK ${this.inviteUris.get(callId) ?? 'sip:x@sip.test'} SIP/2.0`, via, 'Max-Forwards: 70', `From: ${response.headers.get('from')}`, `To: ${response.headers.get('to')}`, `Call-ID: ${callId}`, 'CSeq: 1 ACK', 'Content-Length: 0', '', ''].join('\r\n'));
      return;
    }
    const routes = response.raw.split('\r\n').filter((l) => /^record-route:/i.test(l)).map((l) => l.replace(/^record-route:\s*/i, '')).reverse();
    const contact = /<([^>]+)>/.exec(response.headers.get('contact') ?? '')?.[1] ?? '';
    this.sendRaw([
      `ACK ${contact} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.port};rport;branch=z9hG4bK${randomBytes(6).toString('hex')}`,
      'Max-Forwards: 70',
      ...routes.map((r) => `Route: ${r}`),
      `From: ${response.headers.get('from')}`,
      `To: ${response.headers.get('to')}`,
      `Call-ID: ${callId}`,
      'CSeq: 1 ACK',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'));
  }

  private answer(lines: string[], status: number, reason: string): void {
    const keep = lines.slice(1).filter((l) => /^(via|from|to|call-id|cseq)\s*:/i.test(l));
    this.sendRaw([`SIP/2.0 ${status} ${reason}`, ...keep, 'Content-Length: 0', '', ''].join('\r\n'));
  }

  private until<T>(find: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const found = find();
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const check = (): void => {
        const f = find();
        if (f === undefined) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(f);
      };
      this.waiters.add(check);
    });
  }
}
