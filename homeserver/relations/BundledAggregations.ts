// Server-side aggregations of child events (spec: "Aggregations of child events"), bundled into the
// parent's `unsigned.m.relations` for one reader:
//   m.thread:    latest_event (formatted, with its own aggregations), count, current_user_participated;
//   m.replace:   the most recent valid edit, formatted as an event (the original content stays as it is,
//                as the spec says since v1.7); none for a redacted original;
//   m.reference: {chunk: [{event_id}]}.
// Only children the reader may see count. One instance serves one response: each event is looked up once
// (its size is measured for the byte budget and then formatted), and a page is asked about in one query.
import type { ClientEventFormatter, FormatOptions } from '../events/ClientEventFormatter.js';
import type { EventStore } from '../events/EventStore.js';
import type { StoredEvent } from '../events/StoredEvent.js';
import type { RoomReader } from '../rooms/HistoryVisibility.js';
import { REFERENCE, REPLACE, relationOf, THREAD } from './RelatesTo.js';
import type { RelationStore } from './RelationStore.js';

type Json = Record<string, unknown>;

export interface AggregationDeps {
  relations: RelationStore;
  events: EventStore;
  formatter: ClientEventFormatter;
}

/** What ClientEventFormatter asks for an event's `unsigned.m.relations`. */
export interface BundledRelations {
  of(ev: StoredEvent): Json | undefined;
}

export class BundledAggregations implements BundledRelations {
  /** Event ID -> relation types of its children (empty: none), for events already asked about. */
  private readonly childTypes = new Map<string, Set<string>>();
  private readonly done = new Map<string, Json | undefined>();

  constructor(
    private readonly d: AggregationDeps,
    private readonly userId: string,
    private readonly txnKey: string | null,
    /** The reader of a room the response covers, or null when the user may read nothing of it. */
    private readonly readerFor: (roomId: string) => RoomReader | null,
  ) {}

  /** Finds out in one query per room which of these events have children; call before formatting a page. */
  prepare(events: readonly StoredEvent[]): this {
    const byRoom = new Map<string, string[]>();
    for (const e of events) {
      if (e.state_key !== null || this.childTypes.has(e.event_id)) continue;
      const ids = byRoom.get(e.room_id) ?? [];
      ids.push(e.event_id);
      byRoom.set(e.room_id, ids);
    }
    for (const [roomId, ids] of byRoom) {
      const found = this.d.relations.relationTypesOf(roomId, ids);
      for (const id of ids) this.childTypes.set(id, found.get(id) ?? new Set());
    }
    return this;
  }

  of(ev: StoredEvent): Json | undefined {
    // State events get no bundled aggregations (the spec's note says so, for now).
    if (ev.state_key !== null) return undefined;
    if (this.done.has(ev.event_id)) return this.done.get(ev.event_id);
    if (!this.childTypes.has(ev.event_id)) this.prepare([ev]);
    const types = this.childTypes.get(ev.event_id)!;
    const reader = types.size > 0 ? this.readerFor(ev.room_id) : null;
    const out = reader ? this.aggregate(ev, types, reader) : undefined;
    this.done.set(ev.event_id, out);
    return out;
  }

  private aggregate(ev: StoredEvent, types: Set<string>, reader: RoomReader): Json | undefined {
    const out: Json = {};
    const opts: FormatOptions = { txnKey: this.txnKey };
    if (types.has(THREAD)) {
      const summary = this.d.relations.threadSummary(ev.room_id, ev.event_id, reader.visible(ev.pos, Infinity), this.userId);
      const latest = summary.count > 0 ? this.d.events.eventAt(summary.latestPos) : null;
      if (latest) {
        out[THREAD] = {
          latest_event: this.d.formatter.format(latest, { ...opts, relations: this }),
          count: summary.count,
          current_user_participated: summary.participated || ev.sender === this.userId,
        };
      }
    }
    if (types.has(REPLACE) && ev.redacted_by === null && relationOf(ev.content)?.relType !== REPLACE) {
      // Same sender and type are part of the query; the edit must carry m.new_content (which an
      // encrypted edit keeps inside its ciphertext, where only clients can check it).
      const edit = this.d.relations
        .replacementsOf(ev)
        .find((r) => reader.canSee(r) && (r.type === 'm.room.encrypted' || isObject(r.content['m.new_content'])));
      if (edit) out[REPLACE] = this.d.formatter.format(edit, opts);
    }
    if (types.has(REFERENCE)) {
      const chunk = this.d.relations
        .referencesOf(ev.room_id, ev.event_id)
        .filter((r) => reader.canSee(r))
        .map((r) => ({ event_id: r.event_id }));
      if (chunk.length > 0) out[REFERENCE] = { chunk };
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
