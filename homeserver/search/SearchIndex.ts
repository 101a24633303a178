// The full-text index behind POST /search (SQLite FTS5), kept in step with the events table as an
// indexer: message bodies, room names and topics go in when their event is stored and leave when it is
// redacted. rowid is the event's stream position, so a hit is an event without a second lookup table.
import type { EventIndexer } from '../events/EventStore.js';
import type { StoredEvent } from '../events/StoredEvent.js';
import type { SqlDatabase } from '../storage/SqlDatabase.js';

/** The keys the spec lets a search look in, and the event type each belongs to. */
export const SEARCH_KEYS = { 'content.body': 'm.room.message', 'content.name': 'm.room.name', 'content.topic': 'm.room.topic' } as const;
export type SearchKey = keyof typeof SEARCH_KEYS;

export interface SearchHit {
  pos: number;
  room_id: string;
  /** Higher is better (bm25 turned around). */
  rank: number;
}

export interface HitQuery {
  match: string;
  rooms: string[];
  keys: SearchKey[];
  order: 'rank' | 'recent';
  /** recent: only hits older than this position. */
  before: number;
  /** rank: skip this many hits. */
  offset: number;
  limit: number;
}

function keyedValue(ev: StoredEvent): { key: SearchKey; value: string } | null {
  if (ev.type === 'm.room.message' && ev.state_key === null && typeof ev.content['body'] === 'string') return { key: 'content.body', value: ev.content['body'] };
  if (ev.type === 'm.room.name' && ev.state_key === '' && typeof ev.content['name'] === 'string') return { key: 'content.name', value: ev.content['name'] };
  if (ev.type === 'm.room.topic' && ev.state_key === '' && typeof ev.content['topic'] === 'string') return { key: 'content.topic', value: ev.content['topic'] };
  return null;
}

const HITS_SQL = `SELECT rowid AS pos, room_id, -bm25(event_search) AS rank FROM event_search
  WHERE event_search MATCH @match AND room_id IN (SELECT value FROM json_each(@rooms)) AND key IN (SELECT value FROM json_each(@keys))`;

export class SearchIndex implements EventIndexer {
  private readonly s;

  constructor(db: SqlDatabase) {
    this.s = {
      insert: db.prepare('INSERT INTO event_search (rowid, value, key, room_id) VALUES (?, ?, ?, ?)'),
      remove: db.prepare('DELETE FROM event_search WHERE rowid = ?'),
      byRank: db.prepare(`${HITS_SQL} ORDER BY rank DESC, pos DESC LIMIT @limit OFFSET @offset`),
      byRecent: db.prepare(`${HITS_SQL} AND rowid < @before ORDER BY pos DESC LIMIT @limit`),
      count: db.prepare(`SELECT COUNT(*) AS n FROM (${HITS_SQL})`),
    };
  }

  appended(ev: StoredEvent): void {
    const kv = keyedValue(ev);
    if (kv) this.s.insert.run(ev.pos, kv.value, kv.key, ev.room_id);
  }

  redacted(ev: StoredEvent): void {
    if (keyedValue(ev)) this.s.remove.run(ev.pos);
  }

  hits(q: HitQuery): SearchHit[] {
    const params = { match: q.match, rooms: JSON.stringify(q.rooms), keys: JSON.stringify(q.keys), limit: q.limit };
    const rows =
      q.order === 'rank'
        ? this.s.byRank.all({ ...params, offset: q.offset })
        : this.s.byRecent.all({ ...params, before: Number.isFinite(q.before) ? q.before : Number.MAX_SAFE_INTEGER });
    return rows as SearchHit[];
  }

  /** How many indexed values match in these rooms, before history visibility is applied. */
  count(match: string, rooms: string[], keys: SearchKey[]): number {
    return (this.s.count.get({ match, rooms: JSON.stringify(rooms), keys: JSON.stringify(keys) }) as { n: number }).n;
  }
}
