// Typing notifications, read receipts, read markers and send-to-device messages.
import { MatrixError } from '../MatrixError.js';
import type { Requester } from '../contracts.js';
import type { HomeserverContext } from '../HomeserverContext.js';
import { Body, body, content, isJsonObject, param, requesterOf, roomIdParam } from '../http/RequestReader.js';
import { isValidEventId, isValidUserId } from '../ids/MatrixIds.js';
import { txnKeyOf, TxnScope } from '../rooms/TxnKey.js';
import type { RouteTable } from '../http/RouteTable.js';
import { serverOf } from '../federation/send/RoomDestinations.js';

const RECEIPT_TYPES = new Set(['m.read', 'm.read.private', 'm.fully_read']);

export function ephemeralRoutes(r: RouteTable, hs: HomeserverContext): void {
  const auth = hs.auth.required;

  const requireJoined = (me: Requester, roomId: string): void => {
    if (hs.events.membership(roomId, me.userId)?.membership !== 'join') {
      throw new MatrixError(403, 'M_FORBIDDEN', `User ${me.userId} is not in room ${roomId}`);
    }
  };

  r.put('/rooms/:roomId/typing/:userId', auth, (req, res) => {
    const me = requesterOf(res);
    const roomId = roomIdParam(req);
    if (param(req, 'userId') !== me.userId) throw new MatrixError(403, 'M_FORBIDDEN', 'Cannot set typing for other users');
    const b = body(req);
    const typing = b.bool('typing');
    const timeout = b.optInt('timeout');
    requireJoined(me, roomId);
    hs.typing.set(roomId, me.userId, typing, timeout);
    res.json({});
  });

  /** Records one receipt or marker; unknown or invisible events are 404. */
  const mark = (me: Requester, roomId: string, type: string, eventId: string, threadId: string): void => {
    const ev = hs.history.visibleEvent(me.userId, roomId, eventId);
    if (threadId !== '') {
      // A threaded receipt must name the event's own thread (a thread's root may also be read in its thread).
      const thread = hs.relations.store.threadOf(eventId);
      if (thread !== threadId && eventId !== threadId) {
        throw new MatrixError(400, 'M_INVALID_PARAM', `${eventId} is not in thread ${threadId}`);
      }
    }
    if (type === 'm.fully_read') {
      hs.accountData.set(me.userId, roomId, 'm.fully_read', { event_id: eventId });
      return;
    }
    const row = hs.receipts.set(roomId, me.userId, type, threadId, eventId, ev.pos);
    if (!row) return;
    hs.notifier.notify({ rooms: [roomId] });
    hs.appservice.pushEphemeral({
      type: 'm.receipt',
      room_id: roomId,
      content: { [eventId]: { [type]: { [me.userId]: threadId ? { ts: row.ts, thread_id: threadId } : { ts: row.ts } } } },
    });
    hs.federationEdus?.receipt({ roomId, userId: me.userId, receiptType: type, threadId, eventId, ts: row.ts });
  };

  r.post('/rooms/:roomId/receipt/:receiptType/:eventId', auth, (req, res) => {
    const me = requesterOf(res);
    const roomId = roomIdParam(req);
    const type = param(req, 'receiptType');
    if (!RECEIPT_TYPES.has(type)) throw new MatrixError(400, 'M_INVALID_PARAM', `Unknown receipt type ${JSON.stringify(type)}`);
    const threadId = body(req).optString('thread_id') ?? '';
    if (threadId !== '' && threadId !== 'main' && !isValidEventId(threadId)) {
      throw new MatrixError(400, 'M_INVALID_PARAM', 'thread_id must be "main" or the ID of a thread root');
    }
    if (type === 'm.fully_read' && threadId !== '') {
      throw new MatrixError(400, 'M_INVALID_PARAM', 'm.fully_read cannot be set per thread');
    }
    requireJoined(me, roomId);
    mark(me, roomId, type, param(req, 'eventId'), threadId);
    res.json({});
  });

  r.post('/rooms/:roomId/read_markers', auth, (req, res) => {
    const me = requesterOf(res);
    const roomId = roomIdParam(req);
    const b = body(req);
    requireJoined(me, roomId);
    for (const type of ['m.fully_read', 'm.read', 'm.read.private']) {
      const eventId = b.optString(type);
      if (eventId !== undefined) mark(me, roomId, type, eventId, '');
    }
    res.json({});
  });

  r.put('/sendToDevice/:eventType/:txnId', auth, (req, res) => {
    const me = requesterOf(res);
    const type = param(req, 'eventType');
    const messages = new Body(content(req)).optObject('messages');
    if (!messages) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing "messages"');
    const targets: Array<{ userId: string; deviceId: string; content: Record<string, unknown> }> = [];
    const remote: Record<string, Record<string, Record<string, unknown>>> = {};
    for (const [userId, byDevice] of Object.entries(messages)) {
      if (!isValidUserId(userId)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid user ID ${JSON.stringify(userId)}`);
      if (!isJsonObject(byDevice)) throw new MatrixError(400, 'M_BAD_JSON', `messages.${userId} must be an object`);
      for (const [deviceId, content] of Object.entries(byDevice)) {
        if (!isJsonObject(content)) throw new MatrixError(400, 'M_BAD_JSON', `messages.${userId}.${deviceId} must be an object`);
        if (hs.federationEdus && serverOf(userId) !== hs.serverName) {
          (remote[userId] ??= {})[deviceId] = content;
          continue;
        }
        // Without federation remote users cannot be reached; unknown devices receive nothing, and nothing
        // is kept for them (it would wait for ever).
        const devices = deviceId === '*' ? hs.accounts.devices(userId).map((d) => d.device_id) : [deviceId];
        for (const d of devices) if (hs.accounts.hasDevice(userId, d)) targets.push({ userId, deviceId: d, content });
      }
    }
    // The txnId and the messages commit together: a retry after a crash either finds both or neither.
    const sent = hs.db.transaction(() => {
      if (!hs.events.recordTxn({ key: txnKeyOf(me), scope: TxnScope.toDevice(type), id: param(req, 'txnId') })) return false;
      hs.toDevice.send(me.userId, type, targets);
      hs.federationEdus?.toDevice(me.userId, type, remote);
      return true;
    })();
    if (sent) hs.notifier.notify({ users: targets.map((t) => t.userId) });
    res.json({});
  });
}
