// POST /search's room_events category for one user: the index's hits in the rooms the user is or was in,
// kept only where history visibility lets the user see the event (the rules /messages applies), then the
// page, its context, groups and state. A hit the user may not see is skipped, never counted.
import type { ClientEventFormatter, FormatOptions } from '../events/ClientEventFormatter.js';
import type { EventStore } from '../events/EventStore.js';
import type { StoredEvent } from '../events/StoredEvent.js';
import { HISTORY_START } from '../events/StreamRanges.js';
import { MatrixError } from '../MatrixError.js';
import type { Relations } from '../relations/Relations.js';
import type { HistoryVisibility, RoomReader } from '../rooms/HistoryVisibility.js';
import { matchesEvent, type EventMatcher } from '../sync/EventFilter.js';
import { newestEvents, oldestEvents } from '../sync/RoomTimeline.js';
import { paginationToken } from '../sync/SyncToken.js';
import type { SearchHit, SearchIndex, SearchKey } from './SearchIndex.js';
import { searchTerms } from './SearchTerms.js';

export interface RoomEventsQuery {
  term: string;
  keys: SearchKey[];
  order: 'rank' | 'recent';
  filter: EventMatcher;
  limit: number;
  rooms?: string[];
  notRooms: string[];
  context: { before: number; after: number; profile: boolean } | null;
  groupBy: Array<'room_id' | 'sender'>;
  includeState: boolean;
  /** The request's next_batch, as handed out by an earlier page. */
  nextBatch?: string;
}

/** Hits looked at per request at most: a page of hidden or filtered-out hits ends early with a next_batch. */
const MAX_SCANNED = 2000;
/** Hits looked at to count the results; beyond this `count` is a lower bound. */
const MAX_COUNTED = 10_000;

type Cursor = { order: 'recent'; before: number } | { order: 'rank'; offset: number };

function parseCursor(token: string | undefined, order: 'rank' | 'recent'): Cursor {
  if (token === undefined) return order === 'recent' ? { order, before: Infinity } : { order, offset: 0 };
  const m = /^([pr])(\d{1,15})$/.exec(token);
  if (!m || (m[1] === 'p') !== (order === 'recent')) throw new MatrixError(400, 'M_INVALID_PARAM', 'Unknown next_batch token for this search');
  return order === 'recent' ? { order, before: Number(m[2]) } : { order, offset: Number(m[2]) };
}

function cursorToken(c: Cursor): string {
  return c.order === 'recent' ? `p${c.before}` : `r${c.offset}`;
}

export class RoomSearch {
  constructor(
    private readonly index: SearchIndex,
    private readonly events: EventStore,
    private readonly history: HistoryVisibility,
    private readonly relations: Relations,
    private readonly formatter: ClientEventFormatter,
  ) {}

  search(userId: string, txnKey: string | null, q: RoomEventsQuery): Record<string, unknown> {
    const cursor = parseCursor(q.nextBatch, q.order);
    const terms = searchTerms(q.term);
    const readers = new Map<string, RoomReader>();
    for (const row of this.events.membershipsOfUser(userId)) {
      if (row.forgotten !== 0 || q.notRooms.includes(row.room_id)) continue;
      if (q.rooms !== undefined && !q.rooms.includes(row.room_id)) continue;
      readers.set(row.room_id, this.history.readerOf(row));
    }
    const rooms = [...readers.keys()];
    if (terms.match === null || rooms.length === 0 || q.limit === 0) return { count: 0, highlights: terms.words, results: [] };

    const visible = (hit: SearchHit): StoredEvent | null => {
      const ev = this.events.eventAt(hit.pos);
      return ev && readers.get(ev.room_id)?.canSee(ev) && matchesEvent(q.filter, ev) ? ev : null;
    };
    const found: Array<{ hit: SearchHit; ev: StoredEvent }> = [];
    let scanned = 0;
    let exhausted = false;
    const batch = Math.min(Math.max(q.limit * 2, 50), MAX_SCANNED);
    while (found.length < q.limit && scanned < MAX_SCANNED && !exhausted) {
      const hits = this.index.hits({
        match: terms.match,
        rooms,
        keys: q.keys,
        order: q.order,
        before: cursor.order === 'recent' ? cursor.before : 0,
        offset: cursor.order === 'rank' ? cursor.offset : 0,
        limit: batch,
      });
      exhausted = hits.length < batch;
      for (const [i, hit] of hits.entries()) {
        if (cursor.order === 'recent') cursor.before = hit.pos;
        else cursor.offset += 1;
        scanned += 1;
        const ev = visible(hit);
        if (ev) found.push({ hit, ev });
        if (found.length === q.limit) {
          // Hits left in this batch, or a full batch, may hold more results.
          exhausted = exhausted && i === hits.length - 1;
          break;
        }
      }
    }

    const bundle = this.relations.bundle(userId, txnKey, ...readers.values());
    const page = found.map((f) => f.ev);
    bundle.prepare(page);
    const format = { txnKey, relations: bundle };
    const results = found.map(({ hit, ev }) => {
      const out: Record<string, unknown> = { rank: hit.rank, result: this.formatter.format(ev, format) };
      if (q.context) out['context'] = this.context(ev, readers.get(ev.room_id)!, q.context, format);
      return out;
    });
    const out: Record<string, unknown> = { count: this.count(terms.match, rooms, q.keys, visible), highlights: terms.words, results };
    if (!exhausted) out['next_batch'] = cursorToken(cursor);
    if (q.groupBy.length > 0) out['groups'] = groups(page, q.groupBy);
    if (q.includeState) out['state'] = this.state(page, readers);
    return out;
  }

  private count(match: string, rooms: string[], keys: SearchKey[], visible: (h: SearchHit) => StoredEvent | null): number {
    const hits = this.index.hits({ match, rooms, keys, order: 'recent', before: Infinity, offset: 0, limit: MAX_COUNTED });
    return hits.filter((h) => visible(h) !== null).length;
  }

  private context(
    ev: StoredEvent,
    reader: RoomReader,
    limits: { before: number; after: number; profile: boolean },
    format: FormatOptions,
  ): Record<string, unknown> {
    const before = newestEvents(this.events, ev.room_id, reader.visible(HISTORY_START, ev.pos - 1), limits.before).events.reverse();
    const after = oldestEvents(this.events, ev.room_id, reader.visible(ev.pos, Infinity), limits.after).events;
    const out: Record<string, unknown> = {
      start: paginationToken((before.length > 0 ? before[before.length - 1]!.pos : ev.pos) - 1),
      end: paginationToken(after.length > 0 ? after[after.length - 1]!.pos : ev.pos),
      events_before: this.formatter.formatAll(before, format),
      events_after: this.formatter.formatAll(after, format),
    };
    if (limits.profile) {
      const profiles: Record<string, Record<string, string>> = {};
      for (const e of [...before, ev, ...after]) {
        if (profiles[e.sender]) continue;
        const member = this.events.stateEventAt(ev.room_id, 'm.room.member', e.sender, ev.pos);
        const profile: Record<string, string> = {};
        if (typeof member?.content['displayname'] === 'string') profile['displayname'] = member.content['displayname'];
        if (typeof member?.content['avatar_url'] === 'string') profile['avatar_url'] = member.content['avatar_url'];
        profiles[e.sender] = profile;
      }
      out['profile_info'] = profiles;
    }
    return out;
  }

  private state(page: StoredEvent[], readers: Map<string, RoomReader>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const roomId of new Set(page.map((e) => e.room_id))) {
      const reader = readers.get(roomId)!;
      const upTo = reader.stateUpTo();
      if (upTo !== null) out[roomId] = this.formatter.formatAll(this.events.stateAt(roomId, upTo));
    }
    return out;
  }
}

/** The page's results grouped by room or sender, each group ordered by where its first result stands. */
function groups(page: StoredEvent[], keys: Array<'room_id' | 'sender'>): Record<string, unknown> {
  const out: Record<string, Record<string, { order: number; results: string[] }>> = {};
  for (const key of keys) {
    const byValue: Record<string, { order: number; results: string[] }> = {};
    for (const ev of page) {
      const value = ev[key];
      byValue[value] ??= { order: Object.keys(byValue).length + 1, results: [] };
      byValue[value].results.push(ev.event_id);
    }
    out[key] = byValue;
  }
  return out;
}
