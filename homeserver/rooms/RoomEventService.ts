// Sending messages and state, and redacting. What a user may read of a room is HistoryVisibility's.
import { isDeepStrictEqual } from 'node:util';
import { MatrixError } from '../MatrixError.js';
import type { Requester } from '../contracts.js';
import type { EventStore, RoomRow } from '../events/EventStore.js';
import { PowerLevels } from './PowerLevels.js';
import { redactContent } from './Redaction.js';
import { redactsInContent } from './RoomVersions.js';
import type { EventAppender } from './EventAppender.js';
import type { RoomDirectory } from './RoomDirectory.js';
import { txnKeyOf, TxnScope, type TxnRef } from './TxnKey.js';
import { relationOf, THREAD } from '../relations/RelatesTo.js';

export class RoomEventService {
  constructor(
    private readonly events: EventStore,
    private readonly appender: EventAppender,
    private readonly directory: RoomDirectory,
  ) {}

  /** PUT /send: idempotent per device, room, event type and txnId. */
  send(r: Requester, roomId: string, type: string, content: Record<string, unknown>, txnId: string | null, ts?: number): string {
    const txn: TxnRef | null = txnId === null ? null : { key: txnKeyOf(r), scope: TxnScope.send(roomId, type), id: txnId };
    if (type === 'm.room.redaction') {
      const target = content['redacts'];
      if (typeof target !== 'string') throw new MatrixError(400, 'M_BAD_JSON', 'm.room.redaction needs content.redacts');
      return this.redactAs(r, roomId, target, typeof content['reason'] === 'string' ? content['reason'] : undefined, txn);
    }
    return this.events.write(() => {
      if (txn !== null) {
        const earlier = this.events.txnEvent(txn);
        if (earlier) return earlier;
      }
      const room = this.appender.requireRoom(roomId);
      this.checkThreadStart(roomId, content);
      const ev = this.appender.append(room, {
        room_id: roomId,
        sender: r.userId,
        type,
        content,
        origin_server_ts: ts,
        txn: txn ?? undefined,
      });
      return ev.event_id;
    });
  }

  /** PUT /state: re-sending identical state returns the existing event instead of a new one. */
  setState(r: Requester, roomId: string, type: string, stateKey: string, content: Record<string, unknown>, ts?: number): string {
    if (type === 'm.room.canonical_alias') this.checkCanonicalAlias(roomId, content);
    return this.events.write(() => {
      const room = this.appender.requireRoom(roomId);
      const current = this.events.stateEvent(roomId, type, stateKey);
      if (current && current.sender === r.userId && isDeepStrictEqual(current.content, content)) return current.event_id;
      return this.appender.append(room, {
        room_id: roomId,
        sender: r.userId,
        type,
        state_key: stateKey,
        content,
        origin_server_ts: ts,
      }).event_id;
    });
  }

  /** PUT /redact: idempotent per device, room, redacted event and txnId. */
  redact(r: Requester, roomId: string, eventId: string, reason: string | undefined, txnId: string | null): string {
    const txn = txnId === null ? null : { key: txnKeyOf(r), scope: TxnScope.redact(roomId, eventId), id: txnId };
    return this.redactAs(r, roomId, eventId, reason, txn);
  }

  private redactAs(r: Requester, roomId: string, eventId: string, reason: string | undefined, txn: TxnRef | null): string {
    return this.events.write(() => {
      if (txn !== null) {
        const earlier = this.events.txnEvent(txn);
        if (earlier) return earlier;
      }
      const room = this.appender.requireRoom(roomId);
      const target = this.events.event(eventId);
      if (!target || target.room_id !== roomId) throw new MatrixError(404, 'M_NOT_FOUND', `Unknown event ${eventId}`);
      if (target.sender !== r.userId) {
        const pl = PowerLevels.of(this.events.liveState(roomId), room.room_version);
        if (pl.userLevel(r.userId) < pl.redact) {
          throw new MatrixError(403, 'M_FORBIDDEN', `You don't have permission to redact other users' events (needs power level ${pl.redact})`);
        }
      }
      const content: Record<string, unknown> = {};
      if (reason !== undefined) content['reason'] = reason;
      if (redactsInContent(room.room_version)) content['redacts'] = eventId;
      const redaction = this.appender.append(room, {
        room_id: roomId,
        sender: r.userId,
        type: 'm.room.redaction',
        content,
        redacts: eventId,
        txn: txn ?? undefined,
      });
      if (!target.redacted_by) {
        this.events.markRedacted(target, redactContent(room.room_version, target.type, target.content), redaction.event_id);
      }
      return redaction.event_id;
    });
  }

  /** A thread may not start from an event that itself relates to another (spec: 400 M_UNKNOWN). */
  private checkThreadStart(roomId: string, content: Record<string, unknown>): void {
    const rel = relationOf(content);
    if (rel?.relType !== THREAD) return;
    const root = this.events.event(rel.eventId);
    if (root && root.room_id === roomId && relationOf(root.content) !== null) {
      throw new MatrixError(400, 'M_UNKNOWN', `Cannot start a thread from ${rel.eventId}: it relates to another event`);
    }
  }

  room(roomId: string): RoomRow | null {
    return this.events.room(roomId);
  }

  private checkCanonicalAlias(roomId: string, content: Record<string, unknown>): void {
    const aliases: unknown[] = [];
    if (content['alias'] !== undefined && content['alias'] !== null) aliases.push(content['alias']);
    const alt = content['alt_aliases'];
    if (alt !== undefined) {
      if (!Array.isArray(alt)) throw new MatrixError(400, 'M_BAD_JSON', 'alt_aliases must be a list');
      aliases.push(...alt);
    }
    for (const a of aliases) {
      if (typeof a !== 'string') throw new MatrixError(400, 'M_INVALID_PARAM', 'Aliases must be strings');
      if (this.directory.resolve(a)?.room_id !== roomId) {
        throw new MatrixError(400, 'M_BAD_ALIAS', `Alias ${a} does not point to this room`);
      }
    }
  }
}
