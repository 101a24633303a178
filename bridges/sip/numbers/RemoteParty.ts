// Who is on the SIP side of a call or text: a phone number (E.164) or a SIP address, with the ghost id it
// has in Matrix (`+14155550100` gives @sip_=2b14155550100:server, `alice@pbx.example` gives
// @sip_alice=40pbx.example:server) and a display name fit for Matrix and for a SIP header.
import type { NumberFormat, NumberPlan, PhoneNumber } from './NumberPlan.js';

export interface RemoteParty {
  /** The ghost's remote id: E.164 for numbers, `user@host` for other SIP addresses. */
  id: string;
  number: PhoneNumber | null;
  /** What people read: the SIP display name, or the number written internationally, or the address. */
  displayName: string;
}

// RFC 3261 user and host characters; nothing that could end a header or a URI (no CR, LF, <, >, ", space).
const SIP_USER = /^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]{1,128}$/;
const SIP_HOST = /^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** A display name with control characters (CR and LF among them) removed, trimmed, at most 64 characters. */
export function cleanDisplayName(name: string | undefined | null): string {
  return (name ?? '').replace(CONTROL, ' ').replace(/\s+/g, ' ').trim().slice(0, 64);
}

/** The party a SIP URI's user and host name (the From of a call, the target of a dial). Null when either is unusable. */
export function partyFromSip(plan: NumberPlan, user: string | undefined, host: string, displayName?: string): RemoteParty | null {
  if (user !== undefined && !SIP_USER.test(user)) return null;
  if (!SIP_HOST.test(host)) return null;
  const number = user !== undefined ? plan.parse(user) : null;
  const shown = cleanDisplayName(displayName);
  if (number) return { id: number.e164, number, displayName: shown || number.international };
  const id = `${user ?? ''}@${host}`.replace(/^@/, '').toLowerCase();
  return { id, number: null, displayName: shown || id };
}

/** The party a user typed (a number, `sip:alice@pbx.example` or `alice@pbx.example`), or null. */
export function partyFromInput(plan: NumberPlan, text: string): RemoteParty | null {
  const t = text.trim();
  const number = plan.parse(t);
  if (number) return { id: number.e164, number, displayName: number.international };
  const m = /^(?:sips?:)?([^@\s]+)@([^@\s]+)$/i.exec(t);
  return m ? partyFromSip(plan, m[1], m[2]!) : null;
}

/** The party behind a ghost's remote id (E.164 or user@host), or null for ids the bridge never makes. */
export function partyFromId(plan: NumberPlan, id: string): RemoteParty | null {
  if (id.startsWith('+')) {
    const number = plan.parse(id);
    return number && number.e164 === id ? { id, number, displayName: number.international } : null;
  }
  const at = id.indexOf('@');
  return at > 0 ? partyFromSip(plan, id.slice(0, at), id.slice(at + 1)) : null;
}

/** The SIP URI a line dials for a party: its number in the line's format at the line's domain, or its address. */
export function dialUri(plan: NumberPlan, party: RemoteParty, lineDomain: string, format: NumberFormat): string {
  if (party.number) return `sip:${plan.format(party.number, format)}@${lineDomain}`;
  return `sip:${party.id}`;
}
