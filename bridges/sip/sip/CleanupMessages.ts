// What the bridge keeps of a call's SIP side so that, after a restart, nothing rings or stays up on the
// far end: the header lines of a ringing INVITE (to send its final response), of the INVITE we sent (to
// CANCEL it), or the dialog (to send BYE). The requests go out through the SBC like any other; their
// answers match no transaction and are dropped.
import { randomBytes } from 'node:crypto';

/** Enough of a ringing inbound INVITE to answer it: its Via, From, To, Call-ID and CSeq lines. */
export interface RingingInvite {
  kind: 'inbound';
  lines: string[];
}

/** Enough of an INVITE we sent to cancel it: its request line and the lines a CANCEL copies. */
export interface SentInvite {
  kind: 'outbound';
  requestUri: string;
  lines: string[];
}

/** An established dialog, as RFC 3261 §12 describes its state. */
export interface DialogRecord {
  kind: 'dialog';
  callId: string;
  localTag: string;
  remoteTag: string;
  localSequence: number;
  localUri: string;
  remoteUri: string;
  remoteTarget: string;
  routeSet: string[];
}

export type SipCleanup = RingingInvite | SentInvite | DialogRecord;

const ECHOED = new Set(['via', 'v', 'from', 'f', 'to', 't', 'call-id', 'i', 'cseq']);

function headerName(line: string): string {
  return (/^([A-Za-z-]+)\s*:/.exec(line)?.[1] ?? '').toLowerCase();
}

function headLines(raw: string): string[] {
  const end = raw.indexOf('\r\n\r\n');
  return (end < 0 ? raw : raw.slice(0, end)).split('\r\n');
}

/** From the raw INVITE sip.js received. */
export function ringingInvite(raw: string): RingingInvite {
  return { kind: 'inbound', lines: headLines(raw).slice(1).filter((l) => ECHOED.has(headerName(l))) };
}

/** From the INVITE sip.js sent (its string form, with the Via the transaction added). */
export function sentInvite(raw: string): SentInvite | null {
  const lines = headLines(raw);
  const requestUri = /^INVITE (\S+) SIP\/2\.0$/.exec(lines[0] ?? '')?.[1];
  if (!requestUri) return null;
  const keep = new Set(['via', 'v', 'from', 'f', 'to', 't', 'call-id', 'i', 'cseq', 'route', 'max-forwards']);
  return { kind: 'outbound', requestUri, lines: lines.slice(1).filter((l) => keep.has(headerName(l))) };
}

/** The final response that stops a ringing INVITE. */
export function finalResponse(invite: RingingInvite, status: number, phrase: string): string {
  const lines = invite.lines.map((l) => (['to', 't'].includes(headerName(l)) && !/;\s*tag=/i.test(l) ? `${l};tag=${randomBytes(6).toString('hex')}` : l));
  return [`SIP/2.0 ${status} ${phrase}`, ...lines, 'Content-Length: 0', '', ''].join('\r\n');
}

/** The CANCEL of an INVITE we sent: the same request URI, top Via, From, To, Call-ID and CSeq number. */
export function cancelOf(invite: SentInvite): string {
  let viaDone = false;
  const lines: string[] = [];
  for (const line of invite.lines) {
    const name = headerName(line);
    if (name === 'via' || name === 'v') {
      if (!viaDone) lines.push(line);
      viaDone = true;
    } else if (name === 'cseq') {
      lines.push(line.replace(/INVITE\s*$/i, 'CANCEL'));
    } else {
      lines.push(line);
    }
  }
  return [`CANCEL ${invite.requestUri} SIP/2.0`, ...lines, 'Content-Length: 0', '', ''].join('\r\n');
}

/** A BYE in the dialog, sent through `viaHost` (the line's transport host) over WebSocket. */
export function byeOf(dialog: DialogRecord, viaHost: string): string {
  return [
    `BYE ${dialog.remoteTarget} SIP/2.0`,
    `Via: SIP/2.0/WSS ${viaHost};branch=z9hG4bK${randomBytes(8).toString('hex')}`,
    'Max-Forwards: 70',
    ...dialog.routeSet.map((r) => `Route: ${r}`),
    `From: <${dialog.localUri}>;tag=${dialog.localTag}`,
    `To: <${dialog.remoteUri}>;tag=${dialog.remoteTag}`,
    `Call-ID: ${dialog.callId}`,
    `CSeq: ${dialog.localSequence + 1} BYE`,
    'Reason: SIP;cause=500;text="bridge restarted"',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}
