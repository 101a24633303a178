// A small fetch-based client for the room core's tests: start a homeserver, register users, call the API.
import pino from 'pino';
import { startHomeserver, type RunningHomeserver } from '../../../homeserver/index.js';
import type { HomeserverOptions } from '../../../homeserver/contracts.js';
import { shippedHomeserverLimits } from '../../../testkit/shippedDefaults.js';

export interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

export interface CoreUser {
  userId: string;
  token: string;
  deviceId: string;
}

export function coreOptions(overrides: Partial<HomeserverOptions> = {}): HomeserverOptions {
  return {
    serverName: 'core.test',
    bind: '127.0.0.1',
    port: 0,
    storage: { kind: 'memory' },
    maxBodyBytes: 65536,
    maxUploadBytes: 1024 * 1024,
    registrationEnabled: true,
    appserviceConfigFiles: [],
    ...shippedHomeserverLimits(),
    logger: pino({ level: process.env['PATCHBAY_TEST_LOG'] ?? 'silent' }),
    ...overrides,
  };
}

export class CoreClient {
  private txn = 0;
  /** Transaction IDs stay unique across clients: the server remembers them across restarts. */
  private readonly txnPrefix = Math.random().toString(36).slice(2);

  constructor(readonly hs: RunningHomeserver) {}

  static async start(overrides: Partial<HomeserverOptions> = {}): Promise<CoreClient> {
    return new CoreClient(await startHomeserver(coreOptions(overrides)));
  }

  async call(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string> } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token) headers['Authorization'] = `Bearer ${opts.token}`;
    let payload: string | Buffer | undefined;
    if (opts.rawBody !== undefined) payload = opts.rawBody;
    else if (opts.body !== undefined) {
      payload = JSON.stringify(opts.body);
      headers['Content-Type'] ??= 'application/json';
    }
    const url = path.startsWith('/_matrix') || path.startsWith('/.well-known') ? path : `/_matrix/client/v3${path}`;
    const res = await fetch(this.hs.url + url, { method, headers, body: payload });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      body = { raw: text };
    }
    return { status: res.status, body, headers: res.headers };
  }

  /** Like call(), but fails the test unless the status is 200. */
  async ok(method: string, path: string, opts: Parameters<CoreClient['call']>[2] = {}): Promise<Record<string, unknown>> {
    const r = await this.call(method, path, opts);
    if (r.status !== 200) throw new Error(`${method} ${path} -> ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async register(localpart: string, password = 'secret-password'): Promise<CoreUser> {
    const body = await this.ok('POST', '/register', {
      body: { username: localpart, password, auth: { type: 'm.login.dummy' } },
    });
    return { userId: body['user_id'] as string, token: body['access_token'] as string, deviceId: body['device_id'] as string };
  }

  async createRoom(user: CoreUser, body: Record<string, unknown> = {}): Promise<string> {
    return (await this.ok('POST', '/createRoom', { token: user.token, body }))['room_id'] as string;
  }

  async send(user: CoreUser, roomId: string, text: string): Promise<string> {
    this.txn += 1;
    const r = await this.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/${this.txnPrefix}-${this.txn}`, {
      token: user.token,
      body: { msgtype: 'm.text', body: text },
    });
    return r['event_id'] as string;
  }

  async sync(user: CoreUser, query: Record<string, string> = {}): Promise<SyncBody> {
    const qs = new URLSearchParams(query).toString();
    return (await this.ok('GET', `/sync${qs ? `?${qs}` : ''}`, { token: user.token })) as SyncBody;
  }

  stop(): Promise<void> {
    return this.hs.stop();
  }
}

export function enc(s: string): string {
  return encodeURIComponent(s);
}

export interface SyncBody {
  next_batch: string;
  rooms: {
    join: Record<string, JoinedRoom>;
    invite: Record<string, { invite_state: { events: Array<Record<string, unknown>> } }>;
    leave: Record<string, { timeline: Timeline; state: { events: Event[] } }>;
  };
  account_data: { events: Array<{ type: string; content: Record<string, unknown> }> };
  presence: { events: Event[] };
  [key: string]: unknown;
}

export interface Event {
  event_id: string;
  type: string;
  sender: string;
  state_key?: string;
  content: Record<string, unknown>;
  unsigned?: Record<string, unknown>;
  origin_server_ts: number;
}

export interface Timeline {
  events: Event[];
  limited: boolean;
  prev_batch: string;
}

export interface JoinedRoom {
  timeline: Timeline;
  state: { events: Event[] };
  ephemeral: { events: Array<{ type: string; content: Record<string, unknown> }> };
  account_data: { events: Array<{ type: string; content: Record<string, unknown> }> };
  unread_notifications: { notification_count: number; highlight_count: number };
  summary: Record<string, unknown>;
}

export function bodies(events: Event[]): unknown[] {
  return events.filter((e) => e.type === 'm.room.message').map((e) => e.content['body']);
}
