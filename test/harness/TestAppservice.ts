// A minimal application service (the AS side of the spec's Application Service API) on a plain node http
// server: it records everything the homeserver sends, can be told to fail, and answers user/alias
// queries by creating the entity through the Client-Server API with its as_token, as a real bridge does.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClientEvent } from '../../homeserver/contracts.js';
import { escapeRegex, type AppserviceRegistration } from '../../registration/index.js';
import { MatrixHttpClient } from '../../testkit/MatrixHttpClient.js';

export interface TestAppserviceOptions {
  id?: string;
  serverName?: string;
  /** Localpart prefix of its exclusive user namespace and of its aliases, e.g. `_as_`. */
  prefix?: string;
  senderLocalpart?: string;
  /** The third-party protocol it declares and serves. */
  protocol?: string;
  /** Answers user queries for these ids with 404 instead of creating them (default: localparts starting `<prefix>missing`). */
  refusesUser?: (userId: string) => boolean;
  receiveEphemeral?: boolean;
  /** The registration's `rate_limited` (default false, as bridges usually register). */
  rateLimited?: boolean;
  /** `org.matrix.msc3202: true`: to-device messages, device lists and key counts in transactions. */
  encryption?: boolean;
  /** A second, non-exclusive users namespace `@<sharedPrefix>.*` (users it shares with the world). */
  sharedPrefix?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  body: unknown;
}

export interface TransactionAttempt {
  txnId: string;
  /** The body exactly as received. */
  body: { events?: unknown[]; ephemeral?: unknown[]; [key: string]: unknown };
  /** The status this attempt was answered with. */
  answered: number;
}

export interface AcceptedTransaction {
  txnId: string;
  events: ClientEvent[];
  ephemeral: unknown[];
}

export class TestAppservice {
  readonly id: string;
  readonly serverName: string;
  readonly prefix: string;
  readonly senderLocalpart: string;
  readonly protocol: string;
  readonly asToken = randomBytes(16).toString('hex');
  readonly hsToken = randomBytes(16).toString('hex');
  /** The homeserver's base URL; set before it can answer queries (the registration must exist first). */
  homeserverUrl: string | null = null;

  readonly requests: RecordedRequest[] = [];
  readonly attempts: TransactionAttempt[] = [];
  readonly accepted: AcceptedTransaction[] = [];
  /** Every event of every accepted transaction, in delivery order (a repeated txnId adds nothing). */
  readonly events: ClientEvent[] = [];
  /** Deliveries of a txnId that had already been accepted (answered 200 as a no-op). */
  repeatedTxnIds: string[] = [];
  readonly userQueries: string[] = [];
  readonly aliasQueries: string[] = [];
  readonly pings: Array<{ transaction_id?: string }> = [];
  /** Requests whose hs_token was missing or wrong. */
  readonly authFailures: RecordedRequest[] = [];
  /** Called for each event of each newly accepted transaction (benchmarks count with it). */
  onEvents: ((events: ClientEvent[]) => void) | null = null;

  private failNext = 0;
  private failStatus = 500;
  private readonly acceptedIds = new Set<string>();
  private readonly refusesUser: (userId: string) => boolean;
  private readonly receiveEphemeral: boolean;
  private readonly rateLimited: boolean;
  private readonly encryption: boolean;
  private readonly sharedPrefix: string | null;
  private server: Server | null = null;
  private baseUrl: string | null = null;

  constructor(options: TestAppserviceOptions = {}) {
    this.id = options.id ?? 'test-as';
    this.serverName = options.serverName ?? 'localhost';
    this.prefix = options.prefix ?? '_as_';
    this.senderLocalpart = options.senderLocalpart ?? `${this.prefix}bot`;
    this.protocol = options.protocol ?? 'testproto';
    this.receiveEphemeral = options.receiveEphemeral ?? false;
    this.rateLimited = options.rateLimited ?? false;
    this.encryption = options.encryption ?? false;
    this.sharedPrefix = options.sharedPrefix ?? null;
    this.refusesUser = options.refusesUser ?? ((userId) => userId.startsWith(`@${this.prefix}missing`));
  }

  get url(): string {
    if (this.baseUrl === null) throw new Error('TestAppservice: not started');
    return this.baseUrl;
  }

  get senderUserId(): string {
    return `@${this.senderLocalpart}:${this.serverName}`;
  }

  /** The registration the homeserver needs (write it with writeAppserviceRegistration). */
  registration(): AppserviceRegistration {
    const p = escapeRegex(this.prefix);
    const server = escapeRegex(this.serverName);
    const users = [{ regex: `@${p}.*:${server}`, exclusive: true }];
    if (this.sharedPrefix !== null) users.push({ regex: `@${escapeRegex(this.sharedPrefix)}.*:${server}`, exclusive: false });
    return {
      id: this.id,
      url: this.url,
      as_token: this.asToken,
      hs_token: this.hsToken,
      sender_localpart: this.senderLocalpart,
      namespaces: {
        users,
        aliases: [{ regex: `#${p}.*:${server}`, exclusive: true }],
        rooms: [],
      },
      rate_limited: this.rateLimited,
      protocols: [this.protocol],
      receive_ephemeral: this.receiveEphemeral,
      ...(this.encryption && { 'org.matrix.msc3202': true }),
    };
  }

  /** Client-Server calls as this appservice (its as_token). */
  get http(): MatrixHttpClient {
    if (this.homeserverUrl === null) throw new Error('TestAppservice: homeserverUrl not set');
    return new MatrixHttpClient(this.homeserverUrl, this.asToken);
  }

  /** The next `count` transaction attempts are answered with `status` (and not recorded as accepted). */
  failNextTransactions(count: number, status = 500): void {
    this.failNext = count;
    this.failStatus = status;
  }

  /** Forgets everything recorded so far (not the accepted txnIds, so repeats are still recognised). */
  clearRecords(): void {
    for (const list of [this.requests, this.attempts, this.accepted, this.events, this.userQueries, this.aliasQueries, this.pings, this.authFailures]) {
      list.length = 0;
    }
    this.repeatedTxnIds = [];
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.send(res, 500, { errcode: 'M_UNKNOWN', error: String(err) });
      });
    });
    // Keep-alive sockets from the homeserver must not hold stop() open.
    server.keepAliveTimeout = 1_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async readBody(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (text.length === 0) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://as.invalid');
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorization: req.headers.authorization,
      body: await this.readBody(req),
    };
    this.requests.push(recorded);

    const auth = req.headers.authorization;
    if (auth === undefined) {
      this.authFailures.push(recorded);
      return this.send(res, 401, { errcode: 'M_UNAUTHORIZED', error: 'no hs_token' });
    }
    if (auth !== `Bearer ${this.hsToken}`) {
      this.authFailures.push(recorded);
      return this.send(res, 403, { errcode: 'M_FORBIDDEN', error: 'wrong hs_token' });
    }

    const prefix = '/_matrix/app/v1';
    if (!url.pathname.startsWith(prefix + '/')) return this.send(res, 404, { errcode: 'M_UNRECOGNIZED', error: 'unknown path' });
    const rest = url.pathname.slice(prefix.length);
    const segments = rest.split('/').slice(1).map(decodeURIComponent);
    const method = recorded.method;

    if (segments[0] === 'transactions' && segments.length === 2) {
      if (method !== 'PUT') return this.send(res, 405, { errcode: 'M_UNRECOGNIZED', error: 'method' });
      return this.transaction(segments[1], recorded.body, res);
    }
    if (segments[0] === 'users' && segments.length === 2 && method === 'GET') return this.userQuery(segments[1], res);
    if (segments[0] === 'rooms' && segments.length === 2 && method === 'GET') return this.aliasQuery(segments[1], res);
    if (segments[0] === 'ping' && segments.length === 1) {
      if (method !== 'POST') return this.send(res, 405, { errcode: 'M_UNRECOGNIZED', error: 'method' });
      this.pings.push((recorded.body ?? {}) as { transaction_id?: string });
      return this.send(res, 200, {});
    }
    if (segments[0] === 'thirdparty' && method === 'GET') return this.thirdparty(segments.slice(1), recorded.query, res);
    return this.send(res, 404, { errcode: 'M_UNRECOGNIZED', error: 'unknown endpoint' });
  }

  private transaction(txnId: string, rawBody: unknown, res: ServerResponse): void {
    const body = (typeof rawBody === 'object' && rawBody !== null ? rawBody : {}) as TransactionAttempt['body'];
    if (this.failNext > 0) {
      this.failNext -= 1;
      this.attempts.push({ txnId, body, answered: this.failStatus });
      return this.send(res, this.failStatus, { errcode: 'M_UNKNOWN', error: 'told to fail' });
    }
    this.attempts.push({ txnId, body, answered: 200 });
    if (this.acceptedIds.has(txnId)) {
      this.repeatedTxnIds.push(txnId);
      return this.send(res, 200, {});
    }
    this.acceptedIds.add(txnId);
    const events = (Array.isArray(body.events) ? body.events : []) as ClientEvent[];
    this.accepted.push({ txnId, events, ephemeral: Array.isArray(body.ephemeral) ? body.ephemeral : [] });
    this.events.push(...events);
    this.onEvents?.(events);
    this.send(res, 200, {});
  }

  private async userQuery(userId: string, res: ServerResponse): Promise<void> {
    this.userQueries.push(userId);
    const localpart = userId.slice(1).split(':')[0];
    if (!localpart.startsWith(this.prefix) || !userId.endsWith(`:${this.serverName}`) || this.refusesUser(userId)) {
      return this.send(res, 404, { errcode: 'M_NOT_FOUND', error: 'no such user' });
    }
    const reg = await this.http.post('/register', { type: 'm.login.application_service', username: localpart, inhibit_login: true });
    if (reg.status === 200 || (reg.body as { errcode?: string }).errcode === 'M_USER_IN_USE') return this.send(res, 200, {});
    return this.send(res, 500, { errcode: 'M_UNKNOWN', error: `register failed: ${reg.status}` });
  }

  private async aliasQuery(alias: string, res: ServerResponse): Promise<void> {
    this.aliasQueries.push(alias);
    const localpart = alias.slice(1).split(':')[0];
    if (!localpart.startsWith(this.prefix) || !alias.endsWith(`:${this.serverName}`)) {
      return this.send(res, 404, { errcode: 'M_NOT_FOUND', error: 'no such alias' });
    }
    const created = await this.http.post('/createRoom', { room_alias_name: localpart, preset: 'public_chat', name: `Bridged ${localpart}` });
    if (created.status === 200) return this.send(res, 200, {});
    return this.send(res, 500, { errcode: 'M_UNKNOWN', error: `createRoom failed: ${created.status}` });
  }

  /** The protocol description it declares (what GET /thirdparty/protocol/{protocol} answers). */
  protocolDescription(): Record<string, unknown> {
    return {
      user_fields: ['network', 'nick'],
      location_fields: ['network', 'channel'],
      icon: 'mxc://localhost/testproto',
      field_types: {
        network: { regexp: '[a-z]+', placeholder: 'testnet' },
        nick: { regexp: '[^\\s]+', placeholder: 'alice' },
        channel: { regexp: '#[^\\s]+', placeholder: '#general' },
      },
      instances: [{ desc: 'Test network', fields: { network: 'testnet' }, network_id: 'testnet' }],
    };
  }

  private thirdparty(segments: string[], query: Record<string, string>, res: ServerResponse): void {
    const [kind, protocol] = segments;
    if (protocol !== undefined && protocol !== this.protocol) return this.send(res, 404, { errcode: 'M_NOT_FOUND', error: 'unknown protocol' });
    if (kind === 'protocol' && protocol !== undefined) return this.send(res, 200, this.protocolDescription());
    if (kind === 'user' && protocol !== undefined) {
      const nick = query.nick ?? 'someone';
      return this.send(res, 200, [{ userid: `@${this.prefix}${nick}:${this.serverName}`, protocol, fields: query }]);
    }
    if (kind === 'location' && protocol !== undefined) {
      const channel = (query.channel ?? '#general').replace(/^#/, '');
      return this.send(res, 200, [{ alias: `#${this.prefix}${channel}:${this.serverName}`, protocol, fields: query }]);
    }
    if (kind === 'user' && query.userid !== undefined) {
      const nick = query.userid.slice(1 + this.prefix.length).split(':')[0];
      return this.send(res, 200, [{ userid: query.userid, protocol: this.protocol, fields: { network: 'testnet', nick } }]);
    }
    if (kind === 'location' && query.alias !== undefined) {
      const channel = query.alias.slice(1 + this.prefix.length).split(':')[0];
      return this.send(res, 200, [{ alias: query.alias, protocol: this.protocol, fields: { network: 'testnet', channel: `#${channel}` } }]);
    }
    return this.send(res, 404, { errcode: 'M_NOT_FOUND', error: 'nothing' });
  }
}
