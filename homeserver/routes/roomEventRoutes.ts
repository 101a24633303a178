// Sending and reading room events: send, state, messages, members, event, context, redact, aliases.
import type { Request } from 'express';
import { MatrixError } from '../MatrixError.js';
import type { Requester } from '../contracts.js';
import type { HomeserverContext } from '../HomeserverContext.js';
import { ByteBudget, RESPONSE_BUDGET } from '../events/ResponseBudget.js';
import { HISTORY_START } from '../events/StreamRanges.js';
import type { StoredEvent } from '../events/StoredEvent.js';
import { body, content, isJsonObject, param, query, queryInt, requesterOf, roomIdParam } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';
import { isValidEventId } from '../ids/MatrixIds.js';
import { txnKeyOf } from '../rooms/TxnKey.js';
import { matchesEvent, parseEventMatcher } from '../sync/EventFilter.js';
import { newestEvents, oldestEvents } from '../sync/RoomTimeline.js';
import { paginationToken, parseToken } from '../sync/SyncToken.js';

const MAX_LIMIT = 1000;

/** `?ts=` lets an appservice set origin_server_ts (timestamp massaging); others are ignored, as Synapse does. */
function massagedTs(req: Request, me: Requester): number | undefined {
  const ts = query(req, 'ts');
  if (ts === undefined || !me.appserviceId) return undefined;
  if (!/^\d{1,15}$/.test(ts)) throw new MatrixError(400, 'M_INVALID_PARAM', '"ts" must be a timestamp in milliseconds');
  return Number(ts);
}

function eventType(req: Request): string {
  const type = param(req, 'eventType');
  if (type.length === 0 || Buffer.byteLength(type) > 255) throw new MatrixError(400, 'M_INVALID_PARAM', 'Invalid event type');
  return type;
}

function jsonFilter(req: Request): ReturnType<typeof parseEventMatcher> & { lazyLoadMembers: boolean } {
  const raw = query(req, 'filter');
  if (raw === undefined || raw === '') return { ...parseEventMatcher(undefined, 'filter'), lazyLoadMembers: false };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new MatrixError(400, 'M_INVALID_PARAM', '"filter" is not valid JSON');
  }
  const m = parseEventMatcher(parsed, 'filter');
  return { ...m, lazyLoadMembers: isJsonObject(parsed) && parsed['lazy_load_members'] === true };
}

export function roomEventRoutes(r: RouteTable, hs: HomeserverContext): void {
  const auth = hs.auth.required;
  const sends = hs.limits.perUser('sends_per_user');
  const { events, formatter, roomEvents, history } = hs;

  r.put('/rooms/:roomId/send/:eventType/:txnId', auth, sends, (req, res) => {
    const me = requesterOf(res);
    const id = roomEvents.send(me, roomIdParam(req), eventType(req), content(req), param(req, 'txnId'), massagedTs(req, me));
    res.json({ event_id: id });
  });

  // Legacy (sytest): no transaction ID, so no idempotency.
  r.post('/rooms/:roomId/send/:eventType', auth, sends, (req, res) => {
    const me = requesterOf(res);
    const id = roomEvents.send(me, roomIdParam(req), eventType(req), content(req), null);
    res.json({ event_id: id });
  });

  r.put('/rooms/:roomId/state/:eventType{/:stateKey}', auth, sends, (req, res) => {
    const me = requesterOf(res);
    const roomId = roomIdParam(req);
    const type = eventType(req);
    const stateKey = param(req, 'stateKey');
    const id = roomEvents.setState(me, roomId, type, stateKey, content(req), massagedTs(req, me));
    res.json({ event_id: id });
  });

  r.get('/rooms/:roomId/state/:eventType{/:stateKey}', auth, (req, res) => {
    const me = requesterOf(res);
    const roomId = roomIdParam(req);
    const upTo = history.stateUpTo(me.userId, roomId);
    const type = eventType(req);
    const stateKey = param(req, 'stateKey');
    const ev = Number.isFinite(upTo) ? events.stateEventAt(roomId, type, stateKey, upTo) : events.stateEvent(roomId, type, stateKey);
    if (!ev) throw new MatrixError(404, 'M_NOT_FOUND', `No ${type} state with key ${JSON.stringify(stateKey)}`);
    res.json(query(req, 'format') === 'event' ? formatter.format(ev) : ev.content);
  });

  r.get('/rooms/:roomId/state', auth, (req, res) => {
    const me = requesterOf(res);
    const roomId = roomIdParam(req);
    const upTo = history.stateUpTo(me.userId, roomId);
    res.json(formatter.formatAll(events.stateAt(roomId, upTo)));
  });

  r.get('/rooms/:roomId/messages', auth, async (req, res) => {
    const me = requesterOf(res);
    const roomId = roomIdParam(req);
    const dir = query(req, 'dir');
    if (dir !== 'b' && dir !== 'f') throw new MatrixError(400, 'M_INVALID_PARAM', '"dir" must be "b" or "f"');
    const limit = Math.min(queryInt(req, 'limit') ?? 10, MAX_LIMIT);
    const fromRaw = query(req, 'from');
    const toRaw = query(req, 'to');
    const from = fromRaw ? parseToken(fromRaw, 'from').pos : null;
    const to = toRaw ? parseToken(toRaw, 'to').pos : null;
    const filter = jsonFilter(req);
    const reader = history.reader(me.userId, roomId);
    const now = hs.counter.current();
    const keep = (e: StoredEvent): boolean => matchesEvent(filter, e);
    const txnKey = txnKeyOf(me);
    const format = { txnKey, relations: hs.relations.bundle(me.userId, txnKey, reader) };
    const opts = {
      keep,
      budget: new ByteBudget(RESPONSE_BUDGET.messagesBytes, (e) => formatter.serializedSize(e, format)),
      onBatch: (batch: readonly StoredEvent[]) => void format.relations.prepare(batch),
    };
    let chunk;
    let end: string | undefined;
    let start: number;
    if (dir === 'b') {
      start = Math.min(from ?? now, now);
      let slice = newestEvents(events, roomId, reader.visible(to ?? HISTORY_START, start), limit, opts);
      // At the start of what this server has: earlier history from the room's other servers, if any.
      let backfilled = false;
      if (!slice.more && to === null && hs.roomBackfill && (await hs.roomBackfill.backfill(roomId, limit)) > 0) {
        backfilled = true;
        opts.budget = new ByteBudget(RESPONSE_BUDGET.messagesBytes, (e) => formatter.serializedSize(e, format));
        slice = newestEvents(events, roomId, reader.visible(HISTORY_START, start), limit, opts);
      }
      chunk = slice.events.reverse();
      // After a backfill the other servers may have more still: the next page asks them again.
      if ((slice.more || backfilled) && chunk.length > 0) end = paginationToken(chunk[chunk.length - 1]!.pos - 1);
    } else {
      start = from ?? 0;
      const slice = oldestEvents(events, roomId, reader.visible(start, Math.min(to ?? now, now)), limit, opts);
      chunk = slice.events;
      if (slice.more && chunk.length > 0) end = paginationToken(chunk[chunk.length - 1]!.pos);
    }
    const out: Record<string, unknown> = {
      start: fromRaw ?? paginationToken(start),
      chunk: formatter.formatAll(chunk, format),
    };
    if (end !== undefined) out['end'] = end;
    if (filter.lazyLoadMembers) {
      // The senders' member events as of the newest event of the page, as far as the reader may see them.
      const at = chunk.reduce((p, e) => Math.max(p, e.pos), 0);
      const senders = new Set(chunk.map((e) => e.sender));
      out['state'] = formatter.formatAll(
        [...senders].map((s) => events.stateEventAt(roomId, 'm.room.member', s, at)).filter((e): e is StoredEvent => e !== null && reader.maySeeState(e)),
      );
    }
    res.json(out);
  });

  r.get('/rooms/:roomId/members', auth, (req, res) => {
    const me = requesterOf(res);
    const roomId = roomIdParam(req);
    let upTo = history.stateUpTo(me.userId, roomId);
    const at = query(req, 'at');
    if (at) upTo = Math.min(upTo, parseToken(at, 'at').pos);
    const membership = query(req, 'membership');
    const notMembership = query(req, 'not_membership');
    const members = events
      .stateAt(roomId, upTo)
      .filter((e) => e.type === 'm.room.member')
      .filter((e) => membership === undefined || e.content['membership'] === membership)
      .filter((e) => notMembership === undefined || e.content['membership'] !== notMembership);
    res.json({ chunk: formatter.formatAll(members) });
  });

  r.get('/rooms/:roomId/joined_members', auth, (req, res) => {
    const me = requesterOf(res);
    const roomId = roomIdParam(req);
    const members = events.currentState(roomId).filter((e) => e.type === 'm.room.member' && e.content['membership'] === 'join');
    history.checkJoinedMembersAccess(me, roomId, members.map((e) => e.state_key!));
    const joined: Record<string, Record<string, unknown>> = {};
    for (const e of members) {
      const info: Record<string, unknown> = {};
      if (typeof e.content['displayname'] === 'string') info['display_name'] = e.content['displayname'];
      if (typeof e.content['avatar_url'] === 'string') info['avatar_url'] = e.content['avatar_url'];
      joined[e.state_key!] = info;
    }
    res.json({ joined });
  });

  r.get('/rooms/:roomId/event/:eventId', auth, (req, res) => {
    const me = requesterOf(res);
    const reader = history.reader(me.userId, roomIdParam(req));
    const ev = reader.event(param(req, 'eventId'));
    const txnKey = txnKeyOf(me);
    res.json(formatter.format(ev, { txnKey, relations: hs.relations.bundle(me.userId, txnKey, reader) }));
  });

  r.get('/rooms/:roomId/context/:eventId', auth, (req, res) => {
    const me = requesterOf(res);
    const roomId = roomIdParam(req);
    const reader = history.reader(me.userId, roomId);
    const ev = reader.event(param(req, 'eventId'));
    const limit = Math.min(queryInt(req, 'limit') ?? 10, MAX_LIMIT);
    const filter = jsonFilter(req);
    const keep = (e: StoredEvent): boolean => matchesEvent(filter, e);
    const txnKey = txnKeyOf(me);
    const format = { txnKey, relations: hs.relations.bundle(me.userId, txnKey, reader) };
    const sizeOf = (e: StoredEvent): number => formatter.serializedSize(e, format);
    const onBatch = (batch: readonly StoredEvent[]): void => void format.relations.prepare(batch);
    // Half the budget for each side; the start and end tokens follow what was returned.
    const half = (): ByteBudget => new ByteBudget(RESPONSE_BUDGET.messagesBytes / 2, sizeOf);
    const before = newestEvents(events, roomId, reader.visible(HISTORY_START, ev.pos - 1), Math.floor(limit / 2), { keep, budget: half(), onBatch }).events.reverse();
    const after = oldestEvents(events, roomId, reader.visible(ev.pos, hs.counter.current()), Math.ceil(limit / 2), { keep, budget: half(), onBatch }).events;
    const endPos = after.length > 0 ? after[after.length - 1]!.pos : ev.pos;
    res.json({
      event: formatter.format(ev, format),
      events_before: formatter.formatAll(before, format),
      events_after: formatter.formatAll(after, format),
      start: paginationToken((before.length > 0 ? before[before.length - 1]!.pos : ev.pos) - 1),
      end: paginationToken(endPos),
      state: formatter.formatAll(events.stateAt(roomId, endPos).filter((e) => reader.maySeeState(e))),
    });
  });

  const redact = (req: Request, me: Requester, txnId: string | null): string => {
    const eventId = param(req, 'eventId');
    if (!isValidEventId(eventId)) throw new MatrixError(400, 'M_INVALID_PARAM', 'Invalid event ID');
    return roomEvents.redact(me, roomIdParam(req), eventId, body(req).optString('reason'), txnId);
  };
  r.put('/rooms/:roomId/redact/:eventId/:txnId', auth, sends, (req, res) => {
    const me = requesterOf(res);
    res.json({ event_id: redact(req, me, param(req, 'txnId')) });
  });
  r.post('/rooms/:roomId/redact/:eventId', auth, sends, (req, res) => {
    res.json({ event_id: redact(req, requesterOf(res), null) });
  });

  r.get('/rooms/:roomId/aliases', auth, (req, res) => {
    const me = requesterOf(res);
    const roomId = roomIdParam(req);
    history.stateUpTo(me.userId, roomId);
    res.json({ aliases: hs.directory.aliasesOf(roomId) });
  });
}
