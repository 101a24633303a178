// The room state another server sends with an invite (`invite_room_state`) or in answer to a knock
// (`knock_room_state`), checked before a client sees it. Since Matrix 1.16 its entries are the room's PDUs;
// senders of room versions 10 and 11 may still send stripped events (type, state_key, sender, content),
// which carry nothing to check and are kept as they are. An entry that is a PDU (it has `signatures` or
// `hashes`) must be a state event of the room's version, of this room, signed by its sender's server, or
// it is dropped; a wrong content hash keeps its redacted copy, as for any received event. What is kept is
// cut down to the stripped form clients are shown (at most MAX_STRIPPED_STATE entries are looked at).
import type { StrippedStateEvent } from '../../contracts.js';
import type { RoomVersion } from '../../rooms/RoomVersions.js';
import { checkEventSignatures, type VerifyKeyLookup } from '../pdu/EventSigning.js';
import { parsePdu } from '../receive/PduFormat.js';
import { isJsonObject } from '../../http/RequestReader.js';

export const MAX_STRIPPED_STATE = 50;


export interface CheckedStrippedState {
  kept: StrippedStateEvent[];
  /** Why each dropped entry was dropped. */
  dropped: string[];
}

export async function checkStrippedState(version: RoomVersion, roomId: string, list: unknown, verifyKey: VerifyKeyLookup): Promise<CheckedStrippedState> {
  const out: CheckedStrippedState = { kept: [], dropped: [] };
  if (!Array.isArray(list)) return out;
  for (const entry of list.slice(0, MAX_STRIPPED_STATE)) {
    const verdict = await checkEntry(version, roomId, entry, verifyKey);
    if (typeof verdict === 'string') out.dropped.push(verdict);
    else out.kept.push(verdict);
  }
  return out;
}

async function checkEntry(version: RoomVersion, roomId: string, entry: unknown, verifyKey: VerifyKeyLookup): Promise<StrippedStateEvent | string> {
  if (!isJsonObject(entry)) return 'an entry is not an object';
  if (entry['room_id'] !== undefined && entry['room_id'] !== roomId) return `an entry is of room ${String(entry['room_id'])}`;
  let event: Record<string, unknown> = entry;
  if ('signatures' in entry || 'hashes' in entry) {
    const parsed = parsePdu(version, entry);
    if (!parsed.ok) return parsed.reason;
    if (parsed.event.room_id !== roomId) return `${parsed.event.event_id} is of room ${parsed.event.room_id}`;
    const sig = await checkEventSignatures(version, entry, verifyKey);
    if (sig.outcome === 'bad_signature') return `${parsed.event.event_id}: ${sig.reason}`;
    if (sig.outcome === 'redacted') event = sig.event;
  }
  const { type, state_key: stateKey, sender, content } = event;
  if (typeof type !== 'string' || typeof stateKey !== 'string' || typeof sender !== 'string' || !isJsonObject(content)) {
    return 'an entry is not a state event';
  }
  return { type, state_key: stateKey, sender, content };
}
