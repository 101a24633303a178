// Seeded hostile requests for a route pattern: odd path values, repeated and malformed query parameters,
// and bodies that are empty, not UTF-8, not objects, wrongly typed, huge, deeply nested or numerically
// out of range. Everything is drawn from a SeededRandom, so a failing case is reproduced by its seed.
import { SeededRandom } from './SeededRandom.js';

/** Real values a route can be pointed at, so some requests get past the first check. */
export interface FuzzTargets {
  roomId: string;
  userId: string;
  eventId: string;
  alias: string;
  serverName: string;
}

export interface HostileRequest {
  method: string;
  /** Path and query, ready to append to the server's base URL. */
  url: string;
  body: Uint8Array | undefined;
  /** What the body is, for failure messages. */
  bodyKind: string;
}

const ODD_STRINGS = [
  '',
  ' ',
  'a',
  '\u0000',
  '\u202eevil',
  '😀',
  'é',
  '\n\r\t',
  '../../etc/passwd',
  '*',
  'a*a*a*a*a*a*a*a*b',
  '?*?*?*?*?*?*?*c',
  '<script>alert(1)</script>',
  'null',
  'true',
  '-1',
  '0',
  '1e400',
  '9007199254740993',
  '{"a":1}',
  '@',
  '#',
  '!',
  '$',
  ':',
  'm.room.message',
  'x'.repeat(300),
];

// Percent sequences that are not valid UTF-8 once decoded, or not valid escapes at all.
const RAW_PATH_JUNK = ['%', '%zz', '%ED%A0%80', '%FF', '%C0%AF', '%00', '%2F..%2F'];

const BODY_KEYS = [
  'msgtype', 'body', 'user_id', 'membership', 'room_id', 'displayname', 'avatar_url', 'messages', 'typing', 'timeout',
  'order', 'reason', 'visibility', 'preset', 'invite', 'initial_state', 'name', 'topic', 'type', 'identifier', 'user',
  'password', 'username', 'auth', 'session', 'devices', 'device_id', 'display_name', 'room', 'timeline', 'types',
  'not_types', 'limit', 'rooms', 'state', 'content', 'state_key', 'redacts', 'presence', 'status_msg', 'actions',
  'enabled', 'pattern', 'conditions', 'thread_id', 'm.fully_read', 'm.read', 'filter', 'generic_search_term', 'since',
  'server', 'third_party_instance_id', 'include_all_networks', 'creation_content', 'power_level_content_override',
  'room_version', 'room_alias_name', 'is_direct', 'kind', 'app_id', 'pushkey', 'data', 'events', 'ephemeral',
  'event_id', 'sender', 'origin_server_ts', 'unsigned', 'transaction_id', 'inhibit_login', 'refresh_token',
];

const QUERY_KEYS = [
  'limit', 'dir', 'from', 'to', 'filter', 'since', 'timeout', 'full_state', 'set_presence', 'ts', 'user_id', 'format',
  'membership', 'not_membership', 'server_name', 'via', 'at', 'kind', 'before', 'after', 'allow_redirect',
  'allow_remote', 'filename', 'width', 'height', 'method', 'server', 'userid', 'alias', 'network', 'channel',
  'nickname', 'device_id', 'access_token', 'username',
];

// /sync long-polls for `timeout` ms when nothing happens; fuzzing must not wait that out.
const SAFE_TIMEOUTS = ['0', '-1', 'abc', '1e3', '', '0x10', '00', '99999999999999999999'];

export class HostileRequests {
  private readonly encoder = new TextEncoder();

  constructor(
    readonly rnd: SeededRandom,
    private readonly targets: FuzzTargets,
  ) {}

  private oddString(): string {
    return this.rnd.pick(ODD_STRINGS);
  }

  private pathValue(name: string): string {
    const r = this.rnd;
    if (r.chance(0.1)) return r.pick(RAW_PATH_JUNK);
    const t = this.targets;
    const real: Record<string, string[]> = {
      roomId: [t.roomId, `!nope:${t.serverName}`, `!${'r'.repeat(300)}:${t.serverName}`],
      roomIdOrAlias: [t.roomId, t.alias, `#nope:${t.serverName}`],
      userId: [t.userId, `@nope:${t.serverName}`, `@${'u'.repeat(300)}:${t.serverName}`, '@bad'],
      eventId: [t.eventId, '$nope', `$${'e'.repeat(300)}`],
      roomAlias: [t.alias, `#nope:${t.serverName}`, `#${'a'.repeat(300)}:${t.serverName}`],
      alias: [t.alias, `#nope:${t.serverName}`],
      serverName: [t.serverName, 'elsewhere.example'],
      eventType: ['m.room.message', 'm.room.member', 'm.room.power_levels', 'm.room.redaction', 'a'.repeat(256)],
      scope: ['global', 'device'],
      kind: ['override', 'underride', 'sender', 'room', 'content', 'nope'],
      receiptType: ['m.read', 'm.read.private', 'm.fully_read', 'nope'],
    };
    const pool = real[name];
    const value = pool !== undefined && r.chance(0.6) ? r.pick(pool) : this.oddString();
    return encodeURIComponent(value);
  }

  /** The path pattern with its parameters filled (`{/:name}` may be left out). */
  path(pattern: string): string {
    return pattern
      .replace(/\{\/:([A-Za-z]+)\}/g, (_m, name: string) => (this.rnd.chance(0.5) ? '' : `/${this.pathValue(name)}`))
      .replace(/:([A-Za-z]+)/g, (_m, name: string) => this.pathValue(name));
  }

  query(pattern: string): string {
    const r = this.rnd;
    const parts: string[] = [];
    const isSync = pattern.endsWith('/sync');
    for (let n = r.int(5); n > 0; n--) {
      const key = r.chance(0.9) ? r.pick(QUERY_KEYS) : this.oddString();
      let value: string;
      if (key === 'timeout' || (isSync && r.chance(0.1))) value = r.pick(SAFE_TIMEOUTS);
      else if (key === 'filter' && r.chance(0.6)) value = JSON.stringify(this.filter());
      else value = r.chance(0.5) ? this.oddString() : String(r.pick([0, -1, 1, 10, 1001, 2 ** 53, 1e21, 0.5]));
      if (key === 'access_token') continue; // authentication is chosen separately
      parts.push(`${encodeURIComponent(key)}=${r.chance(0.05) ? r.pick(RAW_PATH_JUNK) : encodeURIComponent(value)}`);
    }
    if (isSync && !parts.some((p) => p.startsWith('timeout='))) parts.push('timeout=0');
    return parts.length === 0 ? '' : `?${parts.join('&')}`;
  }

  private filter(): unknown {
    const globs = (): string[] => Array.from({ length: this.rnd.int(4) }, () => this.rnd.pick(['a*a*a*a*a*a*a*b', 'm.*', '*', '?', this.oddString()]));
    return this.rnd.chance(0.2)
      ? this.value(3)
      : { room: { timeline: { types: globs(), not_types: globs(), limit: this.rnd.pick([0, 5, -1, 1e6, 'x']) }, rooms: [this.targets.roomId] }, presence: { types: globs() } };
  }

  /** A random JSON value of bounded depth, leaning to the keys endpoints read. */
  value(depth: number): unknown {
    const r = this.rnd;
    const kind = depth <= 0 ? r.int(6) : r.int(8);
    switch (kind) {
      case 0:
        return this.oddString();
      case 1:
        return r.pick([0, -1, 1, 2 ** 53 - 1, -(2 ** 53 - 1), 100, 0.5]);
      case 2:
        return r.chance(0.5);
      case 3:
        return null;
      case 4:
        return r.pick([this.targets.roomId, this.targets.userId, this.targets.eventId, this.targets.alias]);
      case 5:
        return 'x'.repeat(r.pick([1000, 70_000]));
      case 6:
        return Array.from({ length: r.int(4) }, () => this.value(depth - 1));
      default: {
        const o: Record<string, unknown> = {};
        for (let n = r.int(6); n > 0; n--) o[r.chance(0.85) ? r.pick(BODY_KEYS) : this.oddString()] = this.value(depth - 1);
        return o;
      }
    }
  }

  body(): { body: Uint8Array | undefined; kind: string } {
    const r = this.rnd;
    const text = (s: string, kind: string): { body: Uint8Array; kind: string } => ({ body: this.encoder.encode(s), kind });
    switch (r.int(12)) {
      case 0:
        return { body: undefined, kind: 'none' };
      case 1:
        return text('', 'empty');
      case 2:
        return { body: new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), kind: 'invalid UTF-8' };
      case 3:
        return text(r.pick(['[]', '"text"', '42', 'null', 'true', '{', '{"a":}', 'NaN', '{"a":1}{"b":2}']), 'not an object');
      case 4:
        return text(`{"body":"\\ud800","msgtype":"m.text","n":${r.pick(['1e400', '9007199254740993', '-0.5', '1'])}}`, 'surrogate or number');
      case 5: {
        const depth = r.pick([99, 101, 2000]);
        return text(`{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`, `nested ${depth}`);
      }
      default: {
        const v = this.value(3);
        const object = typeof v === 'object' && v !== null && !Array.isArray(v) ? v : { body: v };
        return text(JSON.stringify(object), 'random object');
      }
    }
  }

  request(method: string, pattern: string): HostileRequest {
    const url = this.path(pattern) + this.query(pattern);
    const withBody = method === 'PUT' || method === 'POST' || this.rnd.chance(0.1);
    const { body, kind } = withBody ? this.body() : { body: undefined, kind: 'none' };
    return { method, url, body, bodyKind: kind };
  }
}
