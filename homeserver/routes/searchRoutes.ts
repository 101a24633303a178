// Server-side search: POST /search (room events: message bodies, room names and topics) and
// POST /user_directory/search (people the user may start a chat with).
import type { HomeserverContext } from '../HomeserverContext.js';
import { MatrixError } from '../MatrixError.js';
import { Body, body, query, requesterOf } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';
import { txnKeyOf } from '../rooms/TxnKey.js';
import type { RoomEventsQuery } from '../search/RoomSearch.js';
import { SEARCH_KEYS, type SearchKey } from '../search/SearchIndex.js';
import { parseEventMatcher } from '../sync/EventFilter.js';

const DEFAULT_RESULTS = 10;
const MAX_RESULTS = 100;
const DEFAULT_CONTEXT = 5;
const MAX_CONTEXT = 50;
/** Longer terms add nothing a person types; the cap keeps the query's work bounded. */
const MAX_TERM_LENGTH = 1000;
const DEFAULT_DIRECTORY_LIMIT = 10;
const MAX_DIRECTORY_LIMIT = 100;

function bad(msg: string): never {
  throw new MatrixError(400, 'M_BAD_JSON', msg);
}

function between(v: number | undefined, fallback: number, max: number, what: string): number {
  if (v === undefined) return fallback;
  if (v < 0) bad(`${what} must not be negative`);
  return Math.min(v, max);
}

function roomEventsQuery(criteria: Body, nextBatch: string | undefined): RoomEventsQuery {
  const term = criteria.string('search_term');
  if (term.length > MAX_TERM_LENGTH) bad(`search_term may be at most ${MAX_TERM_LENGTH} characters`);
  const keys = criteria.optStringList('keys') ?? (Object.keys(SEARCH_KEYS) as SearchKey[]);
  for (const k of keys) if (!(k in SEARCH_KEYS)) bad(`keys: "${k}" is not one of ${Object.keys(SEARCH_KEYS).join(', ')}`);
  const order = criteria.optString('order_by') ?? 'rank';
  if (order !== 'rank' && order !== 'recent') bad('order_by must be "rank" or "recent"');
  const rawFilter = criteria.optObject('filter');
  const filter = parseEventMatcher(rawFilter, 'filter');
  const filterBody = new Body(rawFilter ?? {});
  const ctxRaw = criteria.optObject('event_context');
  const ctx = ctxRaw === undefined ? null : new Body(ctxRaw);
  const groupsRaw = criteria.optObject('groupings')?.['group_by'];
  if (groupsRaw !== undefined && !Array.isArray(groupsRaw)) bad('groupings.group_by must be a list');
  const groupBy = (groupsRaw ?? []).map((g: unknown) => {
    const key = new Body(g).string('key');
    if (key !== 'room_id' && key !== 'sender') bad('groupings.group_by[].key must be "room_id" or "sender"');
    return key;
  });
  return {
    term,
    keys: [...new Set(keys as SearchKey[])],
    order,
    filter,
    limit: between(filter.limit, DEFAULT_RESULTS, MAX_RESULTS, 'filter.limit'),
    rooms: filterBody.optStringList('rooms'),
    notRooms: filterBody.optStringList('not_rooms') ?? [],
    context: ctx && {
      before: between(ctx.optInt('before_limit'), DEFAULT_CONTEXT, MAX_CONTEXT, 'event_context.before_limit'),
      after: between(ctx.optInt('after_limit'), DEFAULT_CONTEXT, MAX_CONTEXT, 'event_context.after_limit'),
      profile: ctx.optBool('include_profile') ?? false,
    },
    groupBy: [...new Set(groupBy)],
    includeState: criteria.optBool('include_state') ?? false,
    nextBatch,
  };
}

export function searchRoutes(r: RouteTable, hs: HomeserverContext): void {
  const auth = hs.auth.required;

  r.post('/search', auth, (req, res) => {
    const me = requesterOf(res);
    const categories = body(req).optObject('search_categories');
    if (categories === undefined) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing "search_categories"');
    const roomEvents = new Body(categories).optObject('room_events');
    const out: Record<string, unknown> = {};
    // room_events is the only category the spec defines; others are ignored, as unknown keys are.
    if (roomEvents !== undefined) {
      out['room_events'] = hs.search.search(me.userId, txnKeyOf(me), roomEventsQuery(new Body(roomEvents), query(req, 'next_batch')));
    }
    res.json({ search_categories: out });
  });

  r.post('/user_directory/search', auth, (req, res) => {
    const me = requesterOf(res);
    const b = body(req);
    const term = b.string('search_term');
    if (term.length > MAX_TERM_LENGTH) bad(`search_term may be at most ${MAX_TERM_LENGTH} characters`);
    const limit = between(b.optInt('limit'), DEFAULT_DIRECTORY_LIMIT, MAX_DIRECTORY_LIMIT, 'limit');
    res.json(hs.userDirectory.search(me.userId, term, limit));
  });
}
