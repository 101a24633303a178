// Events stored before PDUs (schema version 12) get their graph and signatures once, at the next start:
// in each such room every event names the one before it (stream order) as prev_events, with depth 1, 2,
// 3..., auth_events from the room's state just before it, hashes and the server's signature. The events
// keep their old random ids, which clients, relations, receipts and transaction ids already name; as those
// ids are not reference hashes, other servers would reject the events, so the rows say legacy_id = 1.
// Events made after the upgrade chain onto the last one and are ordinary PDUs.
import type { Logger } from 'pino';
import { authStateKeys } from '../federation/eventauth/AuthEventSelection.js';
import { CanonicalJsonError, canonicalJson } from '../federation/json/CanonicalJson.js';
import type { LocalEventSigner } from '../federation/pdu/LocalEventSigner.js';
import type { Pdu } from '../federation/pdu/Pdu.js';
import { redactContent } from '../rooms/Redaction.js';
import { isSupportedRoomVersion } from '../rooms/RoomVersions.js';
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import { unsignedLocalPdu } from './LocalPdu.js';
import { fromRow, stateKeyOf, type EventRow, type StoredEvent } from './StoredEvent.js';

const BATCH = 1000;

/** Signs every room still listed in legacy_pdu_rooms, one transaction a room; returns how many events. */
export function upgradeLegacyRooms(db: SqlDatabase, signer: LocalEventSigner, logger: Logger): number {
  const rooms = db.prepare('SELECT l.room_id, r.room_version FROM legacy_pdu_rooms l LEFT JOIN rooms r ON r.room_id = l.room_id').all() as Array<{
    room_id: string;
    room_version: string | null;
  }>;
  if (rooms.length === 0) return 0;
  const s = {
    batch: db.prepare('SELECT * FROM events WHERE room_id = ? AND pos > ? ORDER BY pos LIMIT ?'),
    insertPdu: db.prepare('INSERT OR REPLACE INTO event_pdus (event_id, room_id, depth, pdu, legacy_id) VALUES (?, ?, ?, ?, 1)'),
    clearExtremities: db.prepare('DELETE FROM forward_extremities WHERE room_id = ?'),
    addExtremity: db.prepare('INSERT INTO forward_extremities (room_id, event_id) VALUES (?, ?)'),
    done: db.prepare('DELETE FROM legacy_pdu_rooms WHERE room_id = ?'),
  };
  logger.info({ rooms: rooms.length }, 'signing events stored before PDUs (once; they keep their ids)');
  let total = 0;
  for (const { room_id: roomId, room_version: version } of rooms) {
    if (version === null || !isSupportedRoomVersion(version)) {
      logger.warn({ room_id: roomId, room_version: version }, 'room of an unknown version: its old events stay unsigned');
      continue;
    }
    db.transaction(() => {
      const state = new Map<string, string>();
      let last: { id: string; depth: number } | null = null;
      for (let after = 0; ; ) {
        const rows = (s.batch.all(roomId, after, BATCH) as EventRow[]).map(fromRow);
        for (const ev of rows) {
          const depth: number = (last?.depth ?? 0) + 1;
          const authEvents = authStateKeys({ ...ev, state_key: ev.state_key ?? undefined })
            .map((k) => state.get(k))
            .filter((id): id is string => id !== undefined);
          const graph = { prev_events: last ? [last.id] : [], auth_events: authEvents, depth };
          s.insertPdu.run(ev.event_id, roomId, depth, signedJson(signer, version, ev, graph));
          if (ev.state_key !== null) state.set(stateKeyOf(ev.type, ev.state_key), ev.event_id);
          last = { id: ev.event_id, depth };
        }
        total += rows.length;
        if (rows.length < BATCH) break;
        after = rows[rows.length - 1]!.pos;
      }
      s.clearExtremities.run(roomId);
      if (last) s.addExtremity.run(roomId, last.id);
      s.done.run(roomId);
    })();
  }
  logger.info({ events: total }, 'signed the events stored before PDUs');
  return total;
}

function signedJson(signer: LocalEventSigner, version: string, ev: StoredEvent, graph: Parameters<typeof unsignedLocalPdu>[3]): string {
  const sign = (content: Record<string, unknown>): string => {
    const newEvent = { ...ev, state_key: ev.state_key ?? undefined, redacts: ev.redacts ?? undefined, content };
    const { pdu }: { pdu: Pdu } = signer.sign(version, unsignedLocalPdu(version, newEvent, ev.origin_server_ts, graph));
    return canonicalJson(pdu);
  };
  try {
    return sign(ev.content);
  } catch (err) {
    // Content from before numbers were checked (a fraction) has no canonical form: its PDU carries the
    // redacted content; clients still see the original.
    if (!(err instanceof CanonicalJsonError)) throw err;
    return sign(redactContent(version, ev.type, ev.content));
  }
}
