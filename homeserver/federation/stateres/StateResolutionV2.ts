// State resolution v2 (room versions 2-11, "State resolution" in the room version spec): the state
// before an event with several prev_events is the resolution of the states after each of them. Pure:
// the caller hands in the states (state key -> event id) and a way to read events, which must cover
// every event of the states and of their auth chains.
import { PowerLevels } from '../../rooms/PowerLevels.js';
import { authStateKeys } from '../eventauth/AuthEventSelection.js';
import { authorizeAgainstState, type AuthContext } from '../eventauth/EventAuthRules.js';
import { stateKeyOf, stateView, type RoomEvent, type StateEvents } from '../eventauth/RoomState.js';

/** A state as resolution sees it: stateKeyOf(type, state_key) -> event id. */
export type StateIds = Map<string, string>;

export interface EventSource {
  /** The event with this id; resolution only asks for events it was given, directly or through auth_events. */
  get(eventId: string): RoomEvent | undefined;
  /** Whether the event was rejected (its auth events check failed); such auth events are not used. */
  isRejected?(eventId: string): boolean;
}

/** A state event that may take someone's ability away: power levels, join rules, kicks and bans. */
export function isPowerEvent(e: RoomEvent): boolean {
  if (e.state_key === undefined) return false;
  if (e.type === 'm.room.power_levels' || e.type === 'm.room.join_rules') return true;
  const m = e.content['membership'];
  return e.type === 'm.room.member' && (m === 'leave' || m === 'ban') && e.sender !== e.state_key;
}

export function resolveStateV2(ctx: AuthContext, states: StateIds[], events: EventSource): StateIds {
  if (states.length === 0) return new Map();
  if (states.length === 1) return new Map(states[0]);
  const need = (id: string): RoomEvent => {
    const e = events.get(id);
    if (!e) throw new Error(`State resolution needs event ${id}, which was not given`);
    return e;
  };

  // Unconflicted state map and conflicted state set.
  const unconflicted: StateIds = new Map();
  const conflicted = new Set<string>();
  const allKeys = new Set(states.flatMap((s) => [...s.keys()]));
  for (const key of allKeys) {
    const values = states.map((s) => s.get(key));
    if (values.every((v) => v !== undefined && v === values[0])) unconflicted.set(key, values[0]!);
    else for (const v of values) if (v !== undefined) conflicted.add(v);
  }
  if (conflicted.size === 0) return unconflicted;

  // Auth difference, then the full conflicted set.
  const chains = new Map<string, Set<string>>();
  const authChain = (id: string): Set<string> => {
    let chain = chains.get(id);
    if (chain) return chain;
    chain = new Set();
    chains.set(id, chain); // set first: a (malformed) cycle then ends instead of recursing for ever
    for (const a of events.get(id)?.auth_events ?? []) {
      chain.add(a);
      for (const x of authChain(a)) chain.add(x);
    }
    return chain;
  };
  const fullChains = states.map((s) => {
    const all = new Set<string>();
    for (const id of s.values()) for (const x of authChain(id)) all.add(x);
    return all;
  });
  const full = new Set(conflicted);
  for (const chain of fullChains) for (const id of chain) if (!fullChains.every((c) => c.has(id))) full.add(id);
  const present = [...full].filter((id) => events.get(id) !== undefined);

  // 1: power events of the full conflicted set and their auth chains within it, reverse topological power order.
  const picked = new Set<string>();
  for (const id of present) {
    if (!isPowerEvent(need(id))) continue;
    picked.add(id);
    for (const a of authChain(id)) if (full.has(a) && events.get(a)) picked.add(a);
  }
  const powerSorted = reverseTopologicalPowerOrder(ctx, [...picked], need);
  // 2
  const partial = iterativeAuthChecks(ctx, unconflicted, powerSorted, need, events);
  // 3 and 4: the rest in mainline order of the partially resolved power levels.
  const rest = present.filter((id) => !picked.has(id));
  const resolved = iterativeAuthChecks(ctx, partial, mainlineOrder(partial, rest, need), need, events);
  // 5
  for (const [key, id] of unconflicted) resolved.set(key, id);
  return resolved;
}

/** The sender's power level as the event's own auth events give it. */
function senderPowerLevel(ctx: AuthContext, e: RoomEvent, need: (id: string) => RoomEvent): number {
  const state: StateEvents = new Map();
  for (const id of e.auth_events) {
    const a = need(id);
    if (a.type === 'm.room.power_levels' || a.type === 'm.room.create') state.set(stateKeyOf(a.type, a.state_key ?? ''), a);
  }
  return PowerLevels.of(stateView(state), ctx.roomVersion).userLevel(e.sender);
}

const byTsThenId = (x: RoomEvent, y: RoomEvent): number =>
  x.origin_server_ts - y.origin_server_ts || (x.event_id < y.event_id ? -1 : x.event_id > y.event_id ? 1 : 0);

/** Kahn's algorithm over the auth DAG, taking the highest power, then earliest, then smallest id first. */
function reverseTopologicalPowerOrder(ctx: AuthContext, ids: string[], need: (id: string) => RoomEvent): RoomEvent[] {
  const inSet = new Set(ids);
  const level = new Map(ids.map((id) => [id, senderPowerLevel(ctx, need(id), need)]));
  const waitingOn = new Map(ids.map((id) => [id, need(id).auth_events.filter((a) => inSet.has(a)).length]));
  const dependants = new Map<string, string[]>();
  for (const id of ids) for (const a of need(id).auth_events) if (inSet.has(a)) dependants.set(a, [...(dependants.get(a) ?? []), id]);
  const order: RoomEvent[] = [];
  const ready = ids.filter((id) => waitingOn.get(id) === 0);
  const compare = (x: string, y: string): number => level.get(y)! - level.get(x)! || byTsThenId(need(x), need(y));
  while (ready.length > 0) {
    ready.sort(compare);
    const next = ready.shift()!;
    order.push(need(next));
    for (const d of dependants.get(next) ?? []) {
      const left = waitingOn.get(d)! - 1;
      waitingOn.set(d, left);
      if (left === 0) ready.push(d);
    }
  }
  return order;
}

function powerLevelsAuthEvent(e: RoomEvent, need: (id: string) => RoomEvent): RoomEvent | undefined {
  for (const id of e.auth_events) {
    const a = need(id);
    if (a.type === 'm.room.power_levels' && a.state_key === '') return a;
  }
  return undefined;
}

/** Events sorted by where their power levels chain meets the mainline of the resolved power levels. */
function mainlineOrder(state: StateIds, ids: string[], need: (id: string) => RoomEvent): RoomEvent[] {
  const mainline: string[] = [];
  const plId = state.get(stateKeyOf('m.room.power_levels', ''));
  for (let p = plId === undefined ? undefined : need(plId); p; p = powerLevelsAuthEvent(p, need)) {
    if (mainline.includes(p.event_id)) break;
    mainline.push(p.event_id);
  }
  const positionOf = (e: RoomEvent): number => {
    const seen = new Set<string>();
    for (let p = powerLevelsAuthEvent(e, need); p && !seen.has(p.event_id); p = powerLevelsAuthEvent(p, need)) {
      seen.add(p.event_id);
      const i = mainline.indexOf(p.event_id);
      if (i >= 0) return i;
    }
    return Number.POSITIVE_INFINITY;
  };
  const events = ids.map(need);
  const position = new Map(events.map((e) => [e.event_id, positionOf(e)]));
  // A greater position (an older point on the mainline) sorts first.
  return events.sort((x, y) => {
    const [px, py] = [position.get(x.event_id)!, position.get(y.event_id)!];
    return px !== py ? (px > py ? -1 : 1) : byTsThenId(x, y);
  });
}

/** Applies each event the auth rules allow against the state built so far (with its own auth events filling gaps). */
function iterativeAuthChecks(ctx: AuthContext, base: StateIds, sorted: RoomEvent[], need: (id: string) => RoomEvent, events: EventSource): StateIds {
  const state = new Map(base);
  for (const e of sorted) {
    const authState: StateEvents = new Map();
    for (const id of e.auth_events) {
      if (events.isRejected?.(id)) continue;
      const a = need(id);
      authState.set(stateKeyOf(a.type, a.state_key ?? ''), a);
    }
    for (const key of authStateKeys(e)) {
      const id = state.get(key);
      if (id !== undefined) authState.set(key, need(id));
    }
    if (authorizeAgainstState(ctx, e, authState).allowed && e.state_key !== undefined) state.set(stateKeyOf(e.type, e.state_key), e.event_id);
  }
  return state;
}
