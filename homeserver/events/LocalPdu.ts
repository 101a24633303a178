// What a locally made event looks like as a PDU before signing: the room core's event plus the graph
// fields (prev_events, depth, auth_events) the store picked. v10 keeps `redacts` at the top level; v11
// has it only in content (the room core puts it there).
import type { UnsignedPdu } from '../federation/pdu/Pdu.js';
import { MatrixError } from '../MatrixError.js';
import { redactsInContent } from '../rooms/RoomVersions.js';
import { canonicalJson } from '../federation/json/CanonicalJson.js';
import type { NewEvent } from './EventStore.js';

/** The spec's limit on a whole event, as canonical JSON in the federation format with its signatures. */
export const MAX_PDU_BYTES = 65536;

export interface GraphFields {
  prev_events: string[];
  auth_events: string[];
  depth: number;
}

export function unsignedLocalPdu(roomVersion: string, ev: NewEvent, originServerTs: number, graph: GraphFields): UnsignedPdu {
  return {
    room_id: ev.room_id,
    sender: ev.sender,
    type: ev.type,
    ...(ev.state_key !== undefined && { state_key: ev.state_key }),
    content: ev.content,
    origin_server_ts: originServerTs,
    ...(ev.redacts !== undefined && !redactsInContent(roomVersion) && { redacts: ev.redacts }),
    prev_events: graph.prev_events,
    auth_events: graph.auth_events,
    depth: graph.depth,
  };
}

/** 413 M_TOO_LARGE for a signed PDU over the limit; returns its canonical JSON otherwise. */
export function checkedPduJson(pdu: Record<string, unknown>): string {
  const json = canonicalJson(pdu);
  if (Buffer.byteLength(json) > MAX_PDU_BYTES) throw new MatrixError(413, 'M_TOO_LARGE', `Event is larger than ${MAX_PDU_BYTES} bytes`);
  return json;
}
