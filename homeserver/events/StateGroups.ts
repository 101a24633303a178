// The room state at each event of the graph (tables state_groups, event_state, room_state_groups). A
// state is a group: its changes to a parent group, so a message (which changes nothing) costs one row
// naming its group and a state event one small delta. Chains are cut at MAX_CHAIN by writing a whole
// state, so reading a group never walks far. Events stored before schema 16 have no record: callers fall
// back to the state in stream order for those.
import type { StateIds } from '../federation/stateres/StateResolutionV2.js';
import type { SqlDatabase } from '../storage/SqlDatabase.js';

const MAX_CHAIN = 50;
/** Groups kept parsed in memory (most recently used). */
const CACHE_SIZE = 256;

interface GroupRow {
  parent: number | null;
  delta: string;
  chain: number;
}

export class StateGroups {
  private readonly s;
  private readonly cache = new Map<number, StateIds>();

  constructor(db: SqlDatabase) {
    this.s = {
      group: db.prepare('SELECT parent, delta, chain FROM state_groups WHERE id = ?'),
      insertGroup: db.prepare('INSERT INTO state_groups (room_id, parent, delta, chain) VALUES (?, ?, ?, ?)'),
      record: db.prepare('INSERT OR REPLACE INTO event_state (event_id, before_group, after_group) VALUES (?, ?, ?)'),
      ofEvent: db.prepare('SELECT before_group, after_group FROM event_state WHERE event_id = ?'),
      current: db.prepare('SELECT state_group FROM room_state_groups WHERE room_id = ?'),
      setCurrent: db.prepare(
        `INSERT INTO room_state_groups (room_id, state_group) VALUES (?, ?)
         ON CONFLICT(room_id) DO UPDATE SET state_group = excluded.state_group`,
      ),
      clearCurrent: db.prepare('DELETE FROM room_state_groups WHERE room_id = ?'),
    };
  }

  /** The state a group holds (a copy the caller may change). */
  state(group: number): StateIds {
    return new Map(this.read(group));
  }

  /** A group holding `state`: `base` itself when equal, else its difference to `base`, else the whole state. */
  create(roomId: string, state: StateIds, base: number | null): number {
    if (base !== null) {
      const from = this.read(base);
      const changes: StateIds = new Map();
      for (const [key, id] of state) if (from.get(key) !== id) changes.set(key, id);
      // A state never loses keys in the graph; a resolved one that does is written whole.
      if ([...from.keys()].every((k) => state.has(k))) return changes.size === 0 ? base : this.withChanges(roomId, base, changes);
    }
    return this.insert(roomId, null, state, 0);
  }

  /** A new group: `base` with `changes` set. */
  withChanges(roomId: string, base: number, changes: StateIds): number {
    const row = this.s.group.get(base) as GroupRow | undefined;
    if (!row) throw new Error(`Unknown state group ${base}`);
    if (row.chain + 1 > MAX_CHAIN) {
      const whole = this.state(base);
      for (const [k, v] of changes) whole.set(k, v);
      return this.insert(roomId, null, whole, 0);
    }
    return this.insert(roomId, base, changes, row.chain + 1);
  }

  recordEvent(eventId: string, before: number, after: number): void {
    this.s.record.run(eventId, before, after);
  }

  /** The groups of the state before and after an event; null for an event without a record. */
  ofEvent(eventId: string): { before: number; after: number } | null {
    const row = this.s.ofEvent.get(eventId) as { before_group: number; after_group: number } | undefined;
    return row ? { before: row.before_group, after: row.after_group } : null;
  }

  /** The group of the room's current state; null when not known (a room from before schema 16, an invite). */
  current(roomId: string): number | null {
    return (this.s.current.get(roomId) as { state_group: number } | undefined)?.state_group ?? null;
  }

  setCurrent(roomId: string, group: number): void {
    this.s.setCurrent.run(roomId, group);
  }

  /** The room's current state changed without a group for it (an invite to a room this server is not in). */
  clearCurrent(roomId: string): void {
    this.s.clearCurrent.run(roomId);
  }

  /** A rolled-back transaction may have made groups whose ids will be handed out again: forget them all. */
  rolledBack(): void {
    this.cache.clear();
  }

  private insert(roomId: string, parent: number | null, delta: StateIds, chain: number): number {
    return Number(this.s.insertGroup.run(roomId, parent, JSON.stringify(Object.fromEntries(delta)), chain).lastInsertRowid);
  }

  private read(group: number): StateIds {
    const cached = this.cache.get(group);
    if (cached) {
      this.cache.delete(group);
      this.cache.set(group, cached);
      return cached;
    }
    const deltas: Array<Record<string, string>> = [];
    let id: number | null = group;
    let base: StateIds = new Map();
    while (id !== null) {
      const hit = this.cache.get(id);
      if (hit) {
        base = hit;
        break;
      }
      const row = this.s.group.get(id) as GroupRow | undefined;
      if (!row) throw new Error(`Unknown state group ${id}`);
      deltas.push(JSON.parse(row.delta) as Record<string, string>);
      id = row.parent;
    }
    const state = new Map(base);
    for (const delta of deltas.reverse()) for (const [k, v] of Object.entries(delta)) state.set(k, v);
    this.cache.set(group, state);
    if (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    return state;
  }
}
