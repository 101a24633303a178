// Test doubles for the room core's side of the contract (EventStream, UserDirectory), a recording
// appservice on a plain node http server whose answers each test scripts, and helpers that write
// registration files and build the service on an in-memory or on-disk SQLite database.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import YAML from 'yaml';
import express, { type NextFunction, type Request, type Response } from 'express';
import { MatrixError } from '../../../homeserver/MatrixError.js';
import type {
  Requester,
  AppserviceService,
  ClientEvent,
  EncryptionStream,
  EventStream,
  StrippedStateEvent,
  UserDirectory,
} from '../../../homeserver/contracts.js';
import { createAppserviceService, type AppserviceServiceOptions } from '../../../homeserver/appservice/index.js';
import type { SqlDatabase } from '../../../homeserver/storage/SqlDatabase.js';
import { openSqlite } from '../../../homeserver/storage/SqliteDriver.js';

export const SERVER = 'test.local';

export class FakeEventStream implements EventStream {
  readonly events: Array<{ pos: number; event: ClientEvent }> = [];
  readonly members = new Map<string, string[]>();
  readonly aliases = new Map<string, string[]>();
  readonly stripped = new Map<string, StrippedStateEvent[]>();
  private readonly listeners = new Set<() => void>();
  private counter = 0;

  head(): number {
    return this.events.length === 0 ? 0 : this.events[this.events.length - 1]!.pos;
  }
  readAfter(after: number, limit: number): Array<{ pos: number; event: ClientEvent }> {
    return this.events.filter((e) => e.pos > after).slice(0, limit);
  }
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  joinedLocalMembers(roomId: string): string[] {
    return this.members.get(roomId) ?? [];
  }
  aliasesOf(roomId: string): string[] {
    return this.aliases.get(roomId) ?? [];
  }
  strippedState(roomId: string): StrippedStateEvent[] {
    return this.stripped.get(roomId) ?? [];
  }

  /** Appends events (one commit) and notifies listeners, as the room core does. */
  append(...events: Array<Partial<ClientEvent> & { room_id: string }>): ClientEvent[] {
    const full = events.map((e) => {
      this.counter++;
      const event: ClientEvent = {
        event_id: `$e${this.counter}`,
        sender: `@someone:${SERVER}`,
        type: 'm.room.message',
        content: { msgtype: 'm.text', body: `message ${this.counter}` },
        origin_server_ts: 1_700_000_000_000 + this.counter,
        ...e,
      };
      this.events.push({ pos: this.counter, event });
      return event;
    });
    for (const l of this.listeners) l();
    return full;
  }
}

/** No to-device traffic and no device lists: these suites test events; the real one is tested end to end. */
export const NO_ENCRYPTION_TRAFFIC: EncryptionStream = {
  toDeviceAfter: () => [],
  deleteToDevice: () => {},
  deviceListChangesAfter: () => [],
  joinedRooms: () => [],
  deviceKeyCounts: () => [],
  head: () => 0,
  onChange: () => () => {},
};

export class FakeUserDirectory implements UserDirectory {
  readonly users = new Map<string, Set<string>>();
  add(userId: string, ...devices: string[]): void {
    this.users.set(userId, new Set(devices));
  }
  exists(userId: string): boolean {
    return this.users.has(userId);
  }
  hasDevice(userId: string, deviceId: string): boolean {
    return this.users.get(userId)?.has(deviceId) ?? false;
  }
}

export interface RegistrationFields {
  id: string;
  url: string | null;
  as_token: string;
  hs_token: string;
  sender_localpart: string;
  namespaces: {
    users?: Array<{ regex: string; exclusive: boolean }>;
    aliases?: Array<{ regex: string; exclusive: boolean }>;
    rooms?: Array<{ regex: string; exclusive: boolean }>;
  };
  protocols?: string[];
  receive_ephemeral?: boolean;
  [key: string]: unknown;
}

/** A registration for `id` whose namespaces are `@_<id>_.*`, `#_<id>_.*` on SERVER. */
export function registrationFor(id: string, url: string | null, extra: Partial<RegistrationFields> = {}): RegistrationFields {
  return {
    id,
    url,
    as_token: `as-${id}`,
    hs_token: `hs-${id}`,
    sender_localpart: `_${id}_bot`,
    namespaces: {
      users: [{ regex: `@_${id}_.*:test\\.local`, exclusive: true }],
      aliases: [{ regex: `#_${id}_.*:test\\.local`, exclusive: true }],
      rooms: [],
    },
    ...extra,
  };
}

export function writeRegistration(dir: string, reg: RegistrationFields | string, name?: string): string {
  const file = join(dir, name ?? `${typeof reg === 'string' ? 'raw' : reg.id}.yaml`);
  writeFileSync(file, typeof reg === 'string' ? reg : YAML.stringify(reg));
  return file;
}

export interface ServiceUnderTest {
  service: AppserviceService;
  db: SqlDatabase;
  stream: FakeEventStream;
  users: FakeUserDirectory;
}

export function makeService(
  files: string[],
  opts: {
    dbPath?: string;
    stream?: FakeEventStream;
    users?: FakeUserDirectory;
    retry?: { initialMs: number; maxMs: number };
    options?: AppserviceServiceOptions;
  } = {},
): ServiceUnderTest {
  const db = openSqlite(opts.dbPath ?? ':memory:');
  const stream = opts.stream ?? new FakeEventStream();
  const users = opts.users ?? new FakeUserDirectory();
  const service = createAppserviceService(
    {
      db,
      serverName: SERVER,
      stream,
      encryption: NO_ENCRYPTION_TRAFFIC,
      users,
      registrationFiles: files,
      retry: opts.retry ?? { initialMs: 20, maxMs: 100 },
      logger: pino({ level: process.env['PATCHBAY_TEST_LOG_LEVEL'] ?? 'silent' }),
    },
    { transactionTimeoutMs: 5_000, queryTimeoutMs: 1_000, pingTimeoutMs: 1_000, thirdPartyTimeoutMs: 2_000, ...opts.options },
  );
  return { service, db, stream, users };
}

export interface Received {
  method: string;
  path: string;
  /** Raw query string (without `?`). */
  query: string;
  authorization: string | undefined;
  body: string;
}

export type Responder = (req: Received) => { status: number; body?: unknown } | 'hang' | Promise<{ status: number; body?: unknown }>;

/**
 * An appservice on a plain node http server: records every request and answers with `respond`
 * (replaceable per test). Default: 200 {} for everything.
 */
export class ScriptedAppservice {
  readonly received: Received[] = [];
  respond: Responder = () => ({ status: 200, body: {} });
  private server: Server | null = null;
  private readonly hanging = new Set<ServerResponse>();
  url = '';

  async start(): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 500;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const res of this.hanging) res.destroy();
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Transactions received (every attempt), parsed. */
  transactions(): Array<{ txnId: string; path: string; body: { events: ClientEvent[]; ephemeral?: unknown[]; [k: string]: unknown }; raw: string }> {
    return this.received
      .filter((r) => r.method === 'PUT' && /\/transactions\/[^/]+$/.test(r.path))
      .map((r) => ({
        txnId: decodeURIComponent(r.path.slice(r.path.lastIndexOf('/') + 1)),
        path: r.path,
        body: JSON.parse(r.body) as { events: ClientEvent[] },
        raw: r.body,
      }));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const received: Received = {
      method: req.method ?? 'GET',
      path: q < 0 ? rawUrl : rawUrl.slice(0, q),
      query: q < 0 ? '' : rawUrl.slice(q + 1),
      authorization: req.headers.authorization,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    this.received.push(received);
    const answer = await this.respond(received);
    if (answer === 'hang') {
      this.hanging.add(res);
      return;
    }
    const text = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(text);
  }
}

export const ALICE_TOKEN = 'alice-token';

/**
 * The service's clientRouter mounted as the room core mounts it: under each client prefix, behind an
 * auth middleware that asks authenticate() first and knows one normal user (ALICE_TOKEN). It also
 * serves /account/whoami, to observe identity assertion.
 */
export async function startClientApp(service: AppserviceService): Promise<{ base: string; close: () => Promise<void> }> {
  const app = express();
  app.use((req: Request, res: Response, next: NextFunction) => {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    try {
      const q = req.query as Record<string, string | undefined>;
      const requester: Requester | null =
        service.authenticate(token, q['user_id'], q['device_id']) ??
        (token === ALICE_TOKEN ? { userId: `@alice:${SERVER}`, deviceId: 'ALICEDEV', appserviceId: null, accessToken: token, rateLimited: true } : null);
      if (requester === null) {
        res.status(401).json({ errcode: 'M_UNKNOWN_TOKEN', error: 'unknown token' });
        return;
      }
      res.locals['requester'] = requester;
      next();
    } catch (err) {
      if (err instanceof MatrixError) res.status(err.status).json(err.toJSON());
      else next(err);
    }
  });
  app.get('/_matrix/client/v3/account/whoami', (_req, res) => {
    const r = res.locals['requester'] as Requester;
    res.json({ user_id: r.userId, device_id: r.deviceId ?? undefined });
  });
  for (const prefix of ['v3', 'r0', 'v1', 'unstable']) app.use(`/_matrix/client/${prefix}`, service.clientRouter);
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A JSON call to the client app: status and parsed body. */
export async function callJson(
  base: string,
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> & unknown[] }> {
  const headers: Record<string, string> = {};
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown> & unknown[]) : ({} as Record<string, unknown> & unknown[]) };
}
