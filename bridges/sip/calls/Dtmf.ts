// DTMF as SIP INFO: Matrix has no DTMF event, so digits from Matrix (the !dtmf command, or the
// org.patchbay.call.dtmf event) leave as INFO `application/dtmf-relay`, and INFO digits from the far end
// are shown in the room. (RFC 4733 telephone-events travel in the media, between the Matrix client and
// the phone through the SBC, without the bridge; see docs/bridges/sip.md.)

/** The custom event a client may send during a call: `{ call_id, digits, duration_ms? }`. */
export const DTMF_EVENT_TYPE = 'org.patchbay.call.dtmf';

const DIGITS = /^[0-9A-D*#]{1,32}$/;

/** The digits in `text` (spaces ignored, a-d upper-cased), or null when anything else is there. */
export function parseDigits(text: string): string | null {
  const digits = text.replace(/\s+/g, '').toUpperCase();
  return DIGITS.test(digits) ? digits : null;
}

/** The body of one INFO for one digit. */
export function dtmfRelayBody(digit: string, durationMs: number): string {
  return `Signal=${digit}\r\nDuration=${durationMs}\r\n`;
}

/** The digit an inbound INFO carries (`application/dtmf-relay` or `application/dtmf`), or null. */
export function digitOfInfo(contentType: string | undefined, body: string): string | null {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  let digit: string | undefined;
  if (type === 'application/dtmf-relay') digit = /^\s*signal\s*=\s*(\S)/im.exec(body)?.[1];
  else if (type === 'application/dtmf') digit = body.trim().slice(0, 1);
  if (digit === undefined) return null;
  const upper = digit.toUpperCase();
  return /^[0-9A-D*#]$/.test(upper) ? upper : null;
}
