// A PDU as room versions 10 and 11 define it (v4 event format: the event id is not in the event).
import type { Signatures } from '../signing/SignedJson.js';

export interface Pdu {
  room_id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: Record<string, unknown>;
  auth_events: string[];
  prev_events: string[];
  depth: number;
  origin_server_ts: number;
  hashes: { sha256: string };
  signatures: Signatures;
  unsigned?: Record<string, unknown>;
  /** v10 carries `redacts` at the top level of a redaction; v11 moves it into content. */
  redacts?: string;
  [key: string]: unknown;
}

/** A PDU before hashing and signing: what event creation fills in. */
export type UnsignedPdu = Omit<Pdu, 'hashes' | 'signatures'>;
