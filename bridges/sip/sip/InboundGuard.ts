// Every SIP message from the SBC passes here before sip.js sees it. sip.js drops what it cannot parse
// without a word (the caller hears ringing until its timer fires) and takes any size; the guard refuses
// oversized messages, over-long header lines, oversized bodies and unparseable requests with a SIP error
// response and a log line instead.
import { Core } from 'sip.js';

export interface GuardLimits {
  maxMessageBytes: number;
  maxHeaderBytes: number;
  maxSdpBytes: number;
}

/** `message`: the parse of an accepted message (sip.js takes it over instead of parsing again: ParsedHandoff). */
export type GuardVerdict =
  | { ok: true; message: Core.IncomingRequestMessage | Core.IncomingResponseMessage }
  | { ok: false; status: number; reason: string; reply: string | null };

const SILENT_LOGGER = { error: () => undefined, warn: () => undefined, log: () => undefined, debug: () => undefined };
const HEADER_NAMES: Record<string, string> = { v: 'via', f: 'from', t: 'to', i: 'call-id' };

/** Checks one raw message from the transport; a refused request comes with the raw response to send. */
export function checkInbound(raw: string, limits: GuardLimits): GuardVerdict {
  const bytes = Buffer.byteLength(raw, 'utf8');
  if (bytes > limits.maxMessageBytes) return refuse(raw, 513, 'Message Too Large');
  const end = raw.indexOf('\r\n\r\n');
  const head = end < 0 ? raw : raw.slice(0, end);
  const body = end < 0 ? '' : raw.slice(end + 4);
  if (head.split('\r\n').some((line) => Buffer.byteLength(line, 'utf8') > limits.maxHeaderBytes)) return refuse(raw, 400, 'Header Too Long');
  if (Buffer.byteLength(body, 'utf8') > limits.maxSdpBytes && /^content-type\s*:\s*application\/sdp/im.test(head)) {
    return refuse(raw, 413, 'Request Entity Too Large');
  }
  const parsed = Core.Parser.parseMessage(raw, SILENT_LOGGER as unknown as Core.Logger);
  if (!parsed) return refuse(raw, 400, 'Malformed Message');
  return { ok: true, message: parsed };
}

/** A stateless error response to a raw request, copying its Via, From, To, Call-ID and CSeq lines verbatim. */
function refuse(raw: string, status: number, reason: string): GuardVerdict {
  return { ok: false, status, reason, reply: rawResponse(raw, status, reason) };
}

/**
 * The response, or null when the message is a response itself, an ACK (never answered) or lacks what a
 * response must echo (a Via, a Call-ID and a CSeq).
 */
export function rawResponse(raw: string, status: number, reason: string): string | null {
  const lines = raw.split('\r\n');
  const start = lines[0] ?? '';
  if (!/^[A-Z]+ \S+ SIP\/2\.0$/.test(start) || start.startsWith('ACK ')) return null;
  const copied: string[] = [];
  let hasVia = false;
  let hasCallId = false;
  let hasCseq = false;
  for (const line of lines.slice(1)) {
    if (line === '') break;
    const m = /^([A-Za-z-]+)\s*:(.*)$/.exec(line);
    if (!m) continue;
    const name = (HEADER_NAMES[m[1]!.toLowerCase()] ?? m[1]!.toLowerCase());
    if (name === 'via') hasVia = true;
    if (name === 'call-id') hasCallId = true;
    if (name === 'cseq') hasCseq = true;
    if (name === 'to' && !/;\s*tag=/i.test(m[2]!)) copied.push(`${line};tag=guard${Date.now().toString(36)}`);
    else if (['via', 'from', 'to', 'call-id', 'cseq'].includes(name)) copied.push(line);
  }
  if (!hasVia || !hasCallId || !hasCseq) return null;
  return [`SIP/2.0 ${status} ${reason}`, ...copied, 'Content-Length: 0', '', ''].join('\r\n');
}
