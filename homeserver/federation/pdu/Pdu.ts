// A PDU as room versions 10 and 11 define it (v4 event format: the event id is not in the event).
import type { Signatures } from '../signing/SignedJson.js';

/** A PDU before hashing and signing: what event creation fills in. */
export interface UnsignedPdu {
  room_id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: Record<string, unknown>;
  auth_events: string[];
  prev_events: string[];
  depth: number;
  origin_server_ts: number;
  unsigned?: Record<string, unknown>;
  /** v10 carries `redacts` at the top level of a redaction; v11 moves it into content. */
  redacts?: string;
  [key: string]: unknown;
}

export interface Pdu extends UnsignedPdu {
  hashes: { sha256: string };
  signatures: Signatures;
}
