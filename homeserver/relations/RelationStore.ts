// Which event relates to which (event_relations) and which threads a room has (threads), kept in step
// with the events table by its indexer: a relation is recorded with the event that makes it and forgotten
// when that event is redacted (redaction strips `m.relates_to`, which breaks the relationship).
// Every event that relates to something also knows its thread: the parent's thread, or the root for an
// `m.thread` child, so an edit or a reaction in a thread belongs to the thread without walking parents.
import type { EventIndexer } from '../events/EventStore.js';
import { fromRow, type EventRow, type StoredEvent } from '../events/StoredEvent.js';
import type { StreamRange } from '../events/StreamRanges.js';
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import { MAIN_TIMELINE, relationOf, THREAD } from './RelatesTo.js';

export interface RelationFilter {
  relType?: string;
  eventType?: string;
  /** Include children of children, up to this many levels (1: direct children only). */
  depth: number;
}

export interface ThreadSummary {
  count: number;
  /** Position of the newest event of the thread within the ranges looked at. */
  latestPos: number;
  participated: boolean;
}

export interface ThreadRow {
  root_id: string;
  latest_pos: number;
}

const MAX_DEPTH = 3;

export class RelationStore implements EventIndexer {
  private readonly s;

  constructor(db: SqlDatabase) {
    this.s = {
      insert: db.prepare(
        `INSERT OR IGNORE INTO event_relations (event_id, pos, room_id, relates_to, rel_type, type, sender, thread_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      row: db.prepare('SELECT * FROM event_relations WHERE event_id = ?'),
      remove: db.prepare('DELETE FROM event_relations WHERE event_id = ?'),
      touchThread: db.prepare(
        `INSERT INTO threads (room_id, root_id, latest_pos) VALUES (?, ?, ?)
         ON CONFLICT(room_id, root_id) DO UPDATE SET latest_pos = MAX(latest_pos, excluded.latest_pos)`,
      ),
      threadLatest: db.prepare("SELECT MAX(pos) AS p FROM event_relations WHERE relates_to = ? AND room_id = ? AND rel_type = 'm.thread'"),
      setThread: db.prepare('UPDATE threads SET latest_pos = ? WHERE room_id = ? AND root_id = ?'),
      dropThread: db.prepare('DELETE FROM threads WHERE room_id = ? AND root_id = ?'),
      withChildren: db.prepare(
        `SELECT relates_to, rel_type FROM event_relations
         WHERE relates_to IN (SELECT value FROM json_each(?)) AND room_id = ? GROUP BY relates_to, rel_type`,
      ),
      threadSummary: db.prepare(
        `SELECT COUNT(*) AS n, MAX(pos) AS latest, COALESCE(MAX(sender = ?), 0) AS mine FROM event_relations
         WHERE relates_to = ? AND room_id = ? AND rel_type = 'm.thread' AND pos > ? AND pos <= ?`,
      ),
      replacements: db.prepare(
        `SELECT e.* FROM event_relations r JOIN events e ON e.pos = r.pos
         WHERE r.relates_to = ? AND r.room_id = ? AND r.rel_type = 'm.replace' AND r.sender = ? AND r.type = ?
         ORDER BY e.origin_server_ts DESC, e.event_id DESC LIMIT 20`,
      ),
      references: db.prepare(
        `SELECT event_id, pos FROM event_relations WHERE relates_to = ? AND room_id = ? AND rel_type = 'm.reference' ORDER BY pos LIMIT 100`,
      ),
      participated: db.prepare("SELECT 1 AS x FROM event_relations WHERE relates_to = ? AND room_id = ? AND rel_type = 'm.thread' AND sender = ? LIMIT 1"),
      threads: db.prepare('SELECT root_id, latest_pos FROM threads WHERE room_id = ? AND latest_pos < ? ORDER BY latest_pos DESC LIMIT ?'),
      descendantsDesc: db.prepare(descendantsSql('DESC')),
      descendantsAsc: db.prepare(descendantsSql('ASC')),
    };
  }

  appended(ev: StoredEvent): void {
    if (ev.state_key !== null) return;
    const rel = relationOf(ev.content);
    if (!rel) return;
    const threadId = rel.relType === THREAD ? rel.eventId : this.threadOf(rel.eventId);
    this.s.insert.run(ev.event_id, ev.pos, ev.room_id, rel.eventId, rel.relType, ev.type, ev.sender, threadId);
    if (rel.relType === THREAD) this.s.touchThread.run(ev.room_id, rel.eventId, ev.pos);
  }

  redacted(ev: StoredEvent): void {
    const row = this.s.row.get(ev.event_id) as { relates_to: string; rel_type: string; room_id: string } | undefined;
    if (!row) return;
    this.s.remove.run(ev.event_id);
    if (row.rel_type !== THREAD) return;
    const latest = (this.s.threadLatest.get(row.relates_to, row.room_id) as { p: number | null }).p;
    if (latest === null) this.s.dropThread.run(row.room_id, row.relates_to);
    else this.s.setThread.run(latest, row.room_id, row.relates_to);
  }

  /** The thread an event belongs to: the root's ID, or `main` (thread roots themselves are in the main timeline). */
  threadOf(eventId: string): string {
    const row = this.s.row.get(eventId) as { thread_id: string } | undefined;
    return row?.thread_id ?? MAIN_TIMELINE;
  }

  /** Of these events (all in `roomId`), the ones with children, and of which relation types. */
  relationTypesOf(roomId: string, eventIds: string[]): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    if (eventIds.length === 0) return out;
    for (const r of this.s.withChildren.all(JSON.stringify(eventIds), roomId) as Array<{ relates_to: string; rel_type: string }>) {
      let set = out.get(r.relates_to);
      if (!set) out.set(r.relates_to, (set = new Set()));
      set.add(r.rel_type);
    }
    return out;
  }

  /** The thread under `rootId` as far as `ranges` go (the parts of the room a reader may see). */
  threadSummary(roomId: string, rootId: string, ranges: readonly StreamRange[], userId: string): ThreadSummary {
    const out: ThreadSummary = { count: 0, latestPos: 0, participated: false };
    for (const r of ranges) {
      const row = this.s.threadSummary.get(userId, rootId, roomId, r.after, toSql(r.upTo)) as { n: number; latest: number | null; mine: number };
      out.count += row.n;
      if (row.latest !== null) out.latestPos = Math.max(out.latestPos, row.latest);
      if (row.mine) out.participated = true;
    }
    return out;
  }

  /** Edits of an event by its sender with its type, most recent first (origin_server_ts, then event ID). */
  replacementsOf(original: StoredEvent): StoredEvent[] {
    return (this.s.replacements.all(original.event_id, original.room_id, original.sender, original.type) as EventRow[]).map(fromRow);
  }

  /** Events referencing this one (`m.reference`), oldest first. */
  referencesOf(roomId: string, eventId: string): Array<{ event_id: string; pos: number }> {
    return this.s.references.all(eventId, roomId) as Array<{ event_id: string; pos: number }>;
  }

  hasParticipated(roomId: string, rootId: string, userId: string): boolean {
    return this.s.participated.get(rootId, roomId, userId) !== undefined;
  }

  /** Threads of the room whose newest event is before `beforePos`, most recently active first. */
  threads(roomId: string, beforePos: number, limit: number): ThreadRow[] {
    return this.s.threads.all(roomId, toSql(beforePos), limit) as ThreadRow[];
  }

  /**
   * Children of `parentId` within the range, newest first (`b`) or oldest first (`f`), at most `limit`; with
   * `depth` > 1 also their children (at most three levels, as the spec asks servers to go at least).
   */
  children(roomId: string, parentId: string, filter: RelationFilter, range: StreamRange, dir: 'b' | 'f', limit: number): StoredEvent[] {
    const params = {
      parent: parentId,
      room: roomId,
      depth: Math.min(Math.max(filter.depth, 1), MAX_DEPTH),
      rel_type: filter.relType ?? null,
      type: filter.eventType ?? null,
      after: range.after,
      up_to: toSql(range.upTo),
      limit,
    };
    const stmt = dir === 'b' ? this.s.descendantsDesc : this.s.descendantsAsc;
    return (stmt.all(params) as EventRow[]).map(fromRow);
  }
}

export const RELATION_DEPTH = MAX_DEPTH;

/** Descendants up to @depth levels, filtered by relation and event type, in stream order. */
function descendantsSql(order: 'ASC' | 'DESC'): string {
  return `WITH RECURSIVE tree(event_id, depth) AS (
      SELECT event_id, 1 FROM event_relations WHERE relates_to = @parent AND room_id = @room
      UNION SELECT r.event_id, tree.depth + 1 FROM event_relations r JOIN tree ON r.relates_to = tree.event_id
        WHERE tree.depth < @depth AND r.room_id = @room
    )
    SELECT e.* FROM tree JOIN event_relations r ON r.event_id = tree.event_id JOIN events e ON e.pos = r.pos
    WHERE (@rel_type IS NULL OR r.rel_type = @rel_type) AND (@type IS NULL OR r.type = @type) AND r.pos > @after AND r.pos <= @up_to
    ORDER BY r.pos ${order} LIMIT @limit`;
}

function toSql(upTo: number): number {
  return Number.isFinite(upTo) ? upTo : Number.MAX_SAFE_INTEGER;
}
