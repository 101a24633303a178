// The parts of the spec's Filter that this server honours: timeline limit and the types/senders/rooms
// lists (with '*' wildcards), include_leave, and switching account data, presence or ephemeral off.
// lazy_load_members is accepted and ignored (full member state is always sent, which the spec allows).
import { MatrixError } from '../MatrixError.js';
import { GlobList } from '../matching/GlobList.js';

/** Most patterns one `types` or `not_types` list may hold: each costs O(n·m) per distinct event type. */
export const MAX_TYPE_PATTERNS = 100;

export interface EventMatcher {
  types?: GlobList;
  notTypes: GlobList;
  senders?: string[];
  notSenders: string[];
  containsUrl?: boolean;
}

export interface SyncFilter {
  timelineLimit: number;
  timeline: EventMatcher;
  state: EventMatcher;
  ephemeral: EventMatcher;
  roomAccountData: EventMatcher;
  accountData: EventMatcher;
  presence: EventMatcher;
  rooms?: string[];
  notRooms: string[];
  includeLeave: boolean;
  /** room.timeline.unread_thread_notifications: counts per thread instead of one per room. */
  unreadThreadNotifications: boolean;
}

export const DEFAULT_TIMELINE_LIMIT = 10;
const MAX_TIMELINE_LIMIT = 1000;

function bad(msg: string): never {
  throw new MatrixError(400, 'M_BAD_JSON', msg);
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) bad(`${what} must be an object`);
  return v as Record<string, unknown>;
}

function strings(v: unknown, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) bad(`${what} must be a list of strings`);
  return v as string[];
}

// Filters take `*` as "any run of characters"; `?` is an ordinary character there (the spec names only `*`).
function typePatterns(v: unknown, what: string): GlobList | undefined {
  const list = strings(v, what);
  if (list === undefined) return undefined;
  if (list.length > MAX_TYPE_PATTERNS) bad(`${what} may list at most ${MAX_TYPE_PATTERNS} patterns`);
  return new GlobList(list, { questionMark: false });
}

export function parseEventMatcher(v: unknown, what: string): EventMatcher & { limit?: number } {
  const o = obj(v, what);
  const m: EventMatcher & { limit?: number } = {
    types: typePatterns(o['types'], `${what}.types`),
    notTypes: typePatterns(o['not_types'], `${what}.not_types`) ?? new GlobList([], { questionMark: false }),
    senders: strings(o['senders'], `${what}.senders`),
    notSenders: strings(o['not_senders'], `${what}.not_senders`) ?? [],
  };
  if (o['limit'] !== undefined) {
    if (typeof o['limit'] !== 'number' || !Number.isInteger(o['limit']) || o['limit'] < 0) bad(`${what}.limit must be a non-negative integer`);
    m.limit = o['limit'];
  }
  if (o['contains_url'] !== undefined) {
    if (typeof o['contains_url'] !== 'boolean') bad(`${what}.contains_url must be a boolean`);
    m.containsUrl = o['contains_url'];
  }
  for (const key of ['lazy_load_members', 'include_redundant_members', 'unread_thread_notifications']) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') bad(`${what}.${key} must be a boolean`);
  }
  return m;
}

/** Validates a filter body (POST /filter, inline /sync filter) and extracts what sync uses. */
export function parseSyncFilter(raw: Record<string, unknown>): SyncFilter {
  const room = obj(raw['room'], 'room');
  const timeline = parseEventMatcher(room['timeline'], 'room.timeline');
  if (raw['event_format'] !== undefined && raw['event_format'] !== 'client' && raw['event_format'] !== 'federation') {
    bad('event_format must be "client" or "federation"');
  }
  if (raw['event_fields'] !== undefined) strings(raw['event_fields'], 'event_fields');
  if (room['include_leave'] !== undefined && typeof room['include_leave'] !== 'boolean') bad('room.include_leave must be a boolean');
  return {
    timelineLimit: Math.min(timeline.limit ?? DEFAULT_TIMELINE_LIMIT, MAX_TIMELINE_LIMIT),
    timeline,
    state: parseEventMatcher(room['state'], 'room.state'),
    ephemeral: parseEventMatcher(room['ephemeral'], 'room.ephemeral'),
    roomAccountData: parseEventMatcher(room['account_data'], 'room.account_data'),
    accountData: parseEventMatcher(raw['account_data'], 'account_data'),
    presence: parseEventMatcher(raw['presence'], 'presence'),
    rooms: strings(room['rooms'], 'room.rooms'),
    notRooms: strings(room['not_rooms'], 'room.not_rooms') ?? [],
    includeLeave: room['include_leave'] === true,
    unreadThreadNotifications: obj(room['timeline'], 'room.timeline')['unread_thread_notifications'] === true,
  };
}

export function matchesEvent(m: EventMatcher, ev: { type: string; sender?: string; content?: Record<string, unknown> }): boolean {
  if (m.notTypes.matchesAny(ev.type)) return false;
  if (m.types && !m.types.matchesAny(ev.type)) return false;
  if (ev.sender !== undefined) {
    if (m.notSenders.includes(ev.sender)) return false;
    if (m.senders && !m.senders.includes(ev.sender)) return false;
  }
  if (m.containsUrl !== undefined && ev.content) {
    const has = typeof ev.content['url'] === 'string';
    if (has !== m.containsUrl) return false;
  }
  return true;
}

/** A filter section that lets nothing through (e.g. `"presence": {"types": []}`): skip computing it. */
export function isDisabled(m: EventMatcher): boolean {
  return m.types !== undefined && m.types.isEmpty;
}

export function roomAllowed(f: SyncFilter, roomId: string): boolean {
  if (f.notRooms.includes(roomId)) return false;
  return f.rooms === undefined || f.rooms.includes(roomId);
}
