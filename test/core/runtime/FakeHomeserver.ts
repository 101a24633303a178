// A tiny stand-in homeserver for the runtime's unit tests: the handful of Client-Server endpoints the
// intents and the outbox call, with failures (429, 5xx, M_FORBIDDEN) that tests can inject. The real
// embedded homeserver is used by the integration suite; this one exists to make failures happen on cue.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  userId: string | null;
  query: URLSearchParams;
  body: unknown;
}

export interface SentEvent {
  eventId: string;
  roomId: string;
  sender: string;
  type: string;
  txnId: string;
  content: Record<string, unknown>;
  ts: number | null;
}

/** Returns a response to send instead of the normal handling, or undefined to carry on. */
export type Interceptor = (req: RecordedRequest) => { status: number; body: Record<string, unknown> } | undefined;

export class FakeHomeserver {
  readonly requests: RecordedRequest[] = [];
  readonly sent: SentEvent[] = [];
  readonly registered = new Set<string>();
  /** room id -> joined users */
  readonly members = new Map<string, Set<string>>();
  readonly profiles = new Map<string, { displayname?: string; avatar_url?: string }>();
  readonly media = new Map<string, { bytes: Buffer; type: string }>();
  readonly state = new Map<string, Record<string, unknown>>();
  readonly aliases = new Map<string, string>();
  /** Rooms only invited users may join. */
  readonly inviteOnly = new Set<string>();
  readonly invited = new Map<string, Set<string>>();
  interceptors: Interceptor[] = [];
  /** Handle matching requests normally, then answer 502 anyway: a response lost on the way back. */
  loseResponses: { matches: (r: RecordedRequest) => boolean; count: number } | null = null;
  private readonly txns = new Map<string, string>();
  private server: Server | null = null;
  private counter = 0;
  url = '';

  constructor(
    readonly serverName: string,
    readonly asToken: string,
    readonly senderUserId: string,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }

  /** A room with these members (ids are up to the test). */
  addRoom(roomId: string, members: string[], opts: { inviteOnly?: boolean } = {}): void {
    this.members.set(roomId, new Set(members));
    if (opts.inviteOnly) this.inviteOnly.add(roomId);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    let body: unknown = undefined;
    if (raw.length && (req.headers['content-type'] ?? '').includes('json')) body = JSON.parse(raw.toString('utf8'));
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: decodeURIComponent(url.pathname),
      userId: url.searchParams.get('user_id'),
      query: url.searchParams,
      body,
    };
    this.requests.push(rec);
    const reply = (status: number, json: Record<string, unknown>): void => {
      const lose = this.loseResponses;
      if (lose && lose.count > 0 && status === 200 && lose.matches(rec)) {
        lose.count--;
        status = 502;
        json = { errcode: 'M_UNKNOWN', error: 'proxy error' };
      }
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    };
    if (req.headers.authorization !== `Bearer ${this.asToken}`) return reply(401, { errcode: 'M_UNKNOWN_TOKEN', error: 'bad token' });
    for (const i of this.interceptors) {
      const r = i(rec);
      if (r) return reply(r.status, r.body);
    }
    const user = rec.userId ?? this.senderUserId;
    const seg = url.pathname.split('/').map((s) => decodeURIComponent(s));
    const p = url.pathname;
    const known = (u: string): boolean => u === this.senderUserId || this.registered.has(u);
    if (!known(user) && !(p.endsWith('/register'))) return reply(403, { errcode: 'M_FORBIDDEN', error: 'Application service has not registered this user' });

    if (p === '/_matrix/client/v3/register' && rec.method === 'POST') {
      const b = body as { username: string; type: string };
      const id = `@${b.username}:${this.serverName}`;
      if (this.registered.has(id)) return reply(400, { errcode: 'M_USER_IN_USE', error: 'taken' });
      this.registered.add(id);
      return reply(200, { user_id: id });
    }
    if (p === '/_matrix/client/v3/joined_rooms') {
      return reply(200, { joined_rooms: [...this.members].filter(([, m]) => m.has(user)).map(([r]) => r) });
    }
    if (seg[4] === 'join' && rec.method === 'POST') {
      let room = seg[5]!;
      if (room.startsWith('#')) room = this.aliases.get(room) ?? '';
      const members = this.members.get(room);
      if (!members) return reply(404, { errcode: 'M_NOT_FOUND', error: 'no room' });
      if (this.inviteOnly.has(room) && !members.has(user) && !this.invited.get(room)?.has(user)) {
        return reply(403, { errcode: 'M_FORBIDDEN', error: 'You are not invited to this room.' });
      }
      members.add(user);
      return reply(200, { room_id: room });
    }
    if (seg[4] === 'rooms') {
      const room = seg[5]!;
      const members = this.members.get(room);
      const action = seg[6];
      if (!members) return reply(404, { errcode: 'M_NOT_FOUND', error: 'no room' });
      if (action === 'invite') {
        if (!members.has(user)) return reply(403, { errcode: 'M_FORBIDDEN', error: 'not in room' });
        const inv = this.invited.get(room) ?? new Set();
        inv.add((body as { user_id: string }).user_id);
        this.invited.set(room, inv);
        return reply(200, {});
      }
      if (action === 'leave') {
        members.delete(user);
        return reply(200, {});
      }
      if (action === 'send' || action === 'state') {
        if (!members.has(user)) return reply(403, { errcode: 'M_FORBIDDEN', error: `User ${user} not in room ${room}` });
        if (action === 'state') {
          const id = `$state${++this.counter}`;
          this.state.set(`${room}|${seg[7]}|${seg[8] ?? ''}`, body as Record<string, unknown>);
          return reply(200, { event_id: id });
        }
        const key = `${user}|${room}|${seg[8]}`;
        const seen = this.txns.get(key);
        if (seen) return reply(200, { event_id: seen });
        const eventId = `$ev${++this.counter}`;
        this.txns.set(key, eventId);
        const ts = url.searchParams.get('ts');
        this.sent.push({ eventId, roomId: room, sender: user, type: seg[7]!, txnId: seg[8]!, content: body as Record<string, unknown>, ts: ts ? Number(ts) : null });
        return reply(200, { event_id: eventId });
      }
      if (action === 'joined_members') {
        return reply(200, { joined: Object.fromEntries([...members].map((m) => [m, {}])) });
      }
    }
    if (seg[4] === 'profile') {
      const target = seg[5]!;
      const profile = this.profiles.get(target) ?? {};
      if (rec.method === 'GET') return known(target) ? reply(200, profile) : reply(404, { errcode: 'M_NOT_FOUND', error: 'no profile' });
      if (rec.method === 'PUT') {
        this.profiles.set(target, { ...profile, ...(body as Record<string, string>) });
        return reply(200, {});
      }
    }
    if (p.startsWith('/_matrix/client/v1/media/download/')) {
      const m = this.media.get(`mxc://${seg[6]}/${seg[7]}`);
      if (!m) return reply(404, { errcode: 'M_NOT_FOUND', error: 'no media' });
      res.writeHead(200, { 'content-type': m.type, 'content-length': String(m.bytes.length) });
      res.end(m.bytes);
      return;
    }
    if (seg[4] === 'directory' && seg[5] === 'room') {
      const alias = seg[6]!;
      if (rec.method === 'GET') {
        const room = this.aliases.get(alias);
        return room ? reply(200, { room_id: room, servers: [this.serverName] }) : reply(404, { errcode: 'M_NOT_FOUND', error: 'no alias' });
      }
      if (rec.method === 'PUT') {
        this.aliases.set(alias, (body as { room_id: string }).room_id);
        return reply(200, {});
      }
    }
    reply(404, { errcode: 'M_UNRECOGNIZED', error: `fake homeserver has no ${rec.method} ${p}` });
  }
}
