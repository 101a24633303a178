// Each event's PDU (table event_pdus): the signed federation form as canonical JSON, its depth, and for
// events from other servers whether it is an outlier, soft-failed or rejected. Local events and timeline
// events from elsewhere also have a row in events; the others live here only.
import { canonicalJson } from '../federation/json/CanonicalJson.js';
import type { RoomEvent } from '../federation/eventauth/RoomState.js';
import { redactEvent } from '../federation/pdu/EventRedaction.js';
import type { Pdu } from '../federation/pdu/Pdu.js';
import { isSupportedRoomVersion } from '../rooms/RoomVersions.js';
import type { SqlDatabase } from '../storage/SqlDatabase.js';

/** How an event from another server was stored. */
export type PduStatus = 'timeline' | 'outlier' | 'soft_failed' | 'rejected';

export interface PduEntry {
  event: RoomEvent;
  status: PduStatus;
  /** Why it was rejected (status 'rejected'). */
  rejected: string | null;
  /** The id predates PDUs (not the reference hash). */
  legacyId: boolean;
}

interface PduRow {
  pdu: string;
  legacy_id: number;
  outlier: number;
  soft_failed: number;
  rejected: string | null;
}

export class PduTable {
  private readonly s;

  constructor(db: SqlDatabase) {
    this.s = {
      put: db.prepare(
        `INSERT OR REPLACE INTO event_pdus (event_id, room_id, depth, pdu, legacy_id, outlier, soft_failed, rejected)
         VALUES (?, ?, ?, ?, 0, ?, ?, ?)`,
      ),
      get: db.prepare('SELECT pdu, legacy_id, outlier, soft_failed, rejected FROM event_pdus WHERE event_id = ?'),
      redact: db.prepare('UPDATE event_pdus SET pdu = ? WHERE event_id = ?'),
    };
  }

  /** Stores a PDU, replacing the row of an outlier that now joins the timeline. `json`: its canonical JSON. */
  put(eventId: string, pdu: Pdu, status: PduStatus, rejected: string | null = null, json = canonicalJson(pdu)): void {
    this.s.put.run(eventId, pdu.room_id, pdu.depth, json, status === 'outlier' ? 1 : 0, status === 'soft_failed' ? 1 : 0, rejected);
  }

  pdu(eventId: string): Pdu | null {
    const row = this.s.get.get(eventId) as PduRow | undefined;
    return row ? (JSON.parse(row.pdu) as Pdu) : null;
  }

  entry(eventId: string): PduEntry | null {
    const row = this.s.get.get(eventId) as PduRow | undefined;
    if (!row) return null;
    const status: PduStatus = row.rejected !== null ? 'rejected' : row.outlier ? 'outlier' : row.soft_failed ? 'soft_failed' : 'timeline';
    return { event: { ...(JSON.parse(row.pdu) as Pdu), event_id: eventId }, status, rejected: row.rejected, legacyId: row.legacy_id === 1 };
  }

  /** Redacts the stored PDU as the room version says; its hashes and signatures stay and still verify. */
  redact(eventId: string, roomVersion: string): void {
    const pdu = this.pdu(eventId);
    if (pdu && isSupportedRoomVersion(roomVersion)) this.s.redact.run(canonicalJson(redactEvent(roomVersion, pdu)), eventId);
  }
}
