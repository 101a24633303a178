// Relations and threads (spec v1.3+/v1.4+, under /_matrix/client/v1): the children of an event, and the
// threads of a room, each event with its bundled aggregations.
import type { Request, Response } from 'express';
import { MatrixError } from '../MatrixError.js';
import type { HomeserverContext } from '../HomeserverContext.js';
import { param, query, queryBool, queryInt, requesterOf, roomIdParam } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';
import { RELATION_DEPTH } from '../relations/RelationStore.js';
import { txnKeyOf } from '../rooms/TxnKey.js';
import { paginationToken, parseToken } from '../sync/SyncToken.js';

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 100;

function limitOf(req: Request, fallback: number): number {
  const limit = queryInt(req, 'limit', 1) ?? fallback;
  return Math.min(limit, MAX_LIMIT);
}

export function relationRoutes(r: RouteTable, hs: HomeserverContext): void {
  const auth = hs.auth.required;

  const relations = (req: Request, res: Response): void => {
    const me = requesterOf(res);
    const roomId = roomIdParam(req);
    const reader = hs.history.reader(me.userId, roomId);
    const parent = reader.event(param(req, 'eventId'));
    const dir = query(req, 'dir') ?? 'b';
    if (dir !== 'b' && dir !== 'f') throw new MatrixError(400, 'M_INVALID_PARAM', '"dir" must be "b" or "f"');
    const recurse = queryBool(req, 'recurse');
    const fromRaw = query(req, 'from');
    const toRaw = query(req, 'to');
    const from = fromRaw ? parseToken(fromRaw, 'from').pos : null;
    const to = toRaw ? parseToken(toRaw, 'to').pos : null;
    const now = hs.counter.current();
    const range = dir === 'b' ? { after: to ?? 0, upTo: Math.min(from ?? now, now) } : { after: from ?? 0, upTo: Math.min(to ?? now, now) };
    const relType = param(req, 'relType') || undefined;
    const eventType = param(req, 'eventType') || undefined;
    const page = hs.relations.children(reader, parent, { relType, eventType, depth: recurse ? RELATION_DEPTH : 1 }, range, dir, limitOf(req, DEFAULT_LIMIT));
    const txnKey = txnKeyOf(me);
    const bundle = hs.relations.bundle(me.userId, txnKey, reader).prepare(page.events);
    const out: Record<string, unknown> = { chunk: hs.formatter.formatAll(page.events, { txnKey, relations: bundle }) };
    if (page.next !== null) out['next_batch'] = paginationToken(page.next);
    if (fromRaw) out['prev_batch'] = fromRaw;
    if (recurse !== undefined) out['recursion_depth'] = recurse ? RELATION_DEPTH : 1;
    res.json(out);
  };
  r.get('/rooms/:roomId/relations/:eventId', auth, relations);
  r.get('/rooms/:roomId/relations/:eventId/:relType', auth, relations);
  r.get('/rooms/:roomId/relations/:eventId/:relType/:eventType', auth, relations);

  r.get('/rooms/:roomId/threads', auth, (req, res) => {
    const me = requesterOf(res);
    const roomId = roomIdParam(req);
    const include = query(req, 'include') ?? 'all';
    if (include !== 'all' && include !== 'participated') throw new MatrixError(400, 'M_INVALID_PARAM', '"include" must be "all" or "participated"');
    const fromRaw = query(req, 'from');
    const before = fromRaw ? parseToken(fromRaw, 'from').pos : Infinity;
    const reader = hs.history.reader(me.userId, roomId);
    const page = hs.relations.threads(reader, before, limitOf(req, DEFAULT_LIMIT), include === 'participated');
    const txnKey = txnKeyOf(me);
    const bundle = hs.relations.bundle(me.userId, txnKey, reader).prepare(page.roots);
    const out: Record<string, unknown> = { chunk: hs.formatter.formatAll(page.roots, { txnKey, relations: bundle }) };
    if (page.next !== null) out['next_batch'] = paginationToken(page.next);
    res.json(out);
  });
}
