// A remote homeserver as far as /send is concerned: an HTTP server that takes
// PUT /_matrix/federation/v1/send/{txnId}, checks the X-Matrix signature with the sender's published key
// (GET /_matrix/key/v2/server from the sender, cached) and records every attempt. Tests script the answer
// (500 then 200, per-PDU errors) and stop and restart it on the same port (down, then back).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { authenticateRequest } from '../homeserver/federation/auth/RequestAuth.js';
import { readServerKeys } from '../homeserver/federation/keys/ServerKeysResponse.js';

export interface ReceivedTransaction {
  txnId: string;
  origin: string;
  body: {
    origin: string;
    origin_server_ts: number;
    pdus: Array<Record<string, unknown>>;
    edus?: Array<{ edu_type: string; content: Record<string, unknown> }>;
  };
  /** What the peer answered. */
  status: number;
}

export type PeerAnswer = { status: number; body: unknown };

export class FakeFederationPeer {
  /** Every signed attempt, in order of arrival (retries included). */
  readonly received: ReceivedTransaction[] = [];
  /** Requests refused for their signature, with the reason. */
  readonly refused: string[] = [];
  respond: (txnId: string, body: ReceivedTransaction['body']) => PeerAnswer = () => ({ status: 200, body: { pdus: {} } });
  private server: Server | null = null;
  private boundPort = 0;
  private readonly keys = new Map<string, Uint8Array>();

  /** `senderUrls`: server name -> base URL its keys are fetched from. */
  constructor(
    readonly serverName: string,
    readonly senderUrls: Record<string, string>,
  ) {}

  get port(): number {
    return this.boundPort;
  }

  /** Distinct transactions the peer acknowledged (200), in order. */
  accepted(): ReceivedTransaction[] {
    const seen = new Set<string>();
    return this.received.filter((t) => t.status === 200 && !seen.has(t.txnId) && seen.add(t.txnId) !== undefined);
  }

  edus(): Array<{ edu_type: string; content: Record<string, unknown> }> {
    return this.accepted().flatMap((t) => t.body.edus ?? []);
  }

  /** Listens on `port` (0: any free one; the previous port after a stop). */
  async start(port = this.boundPort): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const answer = (status: number, body: unknown): void => {
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    };
    const match = /^\/_matrix\/federation\/v1\/send\/([^/?]+)$/.exec(req.url ?? '');
    if (req.method !== 'PUT' || !match) return answer(404, { errcode: 'M_UNRECOGNIZED', error: 'not here' });
    let body: ReceivedTransaction['body'];
    let origin: string;
    try {
      body = JSON.parse(text) as ReceivedTransaction['body'];
      origin = await authenticateRequest({ method: 'PUT', uri: req.url!, content: body }, req.headers.authorization, this.serverName, (server, keyId) =>
        this.verifyKey(server, keyId),
      );
    } catch (err) {
      this.refused.push(err instanceof Error ? err.message : String(err));
      return answer(401, { errcode: 'M_UNAUTHORIZED', error: String(err) });
    }
    const reply = this.respond(decodeURIComponent(match[1]!), body);
    this.received.push({ txnId: decodeURIComponent(match[1]!), origin, body, status: reply.status });
    answer(reply.status, reply.body);
  }

  /** The sender's published key (fetched once): what signatures of requests and events are checked with. */
  async verifyKey(server: string, keyId: string): Promise<Uint8Array | null> {
    const cached = this.keys.get(`${server} ${keyId}`);
    if (cached) return cached;
    const url = this.senderUrls[server];
    if (url === undefined) return null;
    const keys = readServerKeys(server, await (await fetch(`${url}/_matrix/key/v2/server`)).json(), Date.now());
    for (const [id, k] of keys) this.keys.set(`${server} ${id}`, k.key);
    return this.keys.get(`${server} ${keyId}`) ?? null;
  }
}
