// A webhook bridge: HTTP in, HTTP out. A POST to /_patchbay/bridges/webhook/hooks/<channel> becomes a
// message in the channel's room (#webhook_<channel>), said by a ghost of its sender; what people write
// in such a room is POSTed to outgoing_url. The second example next to bridges/example: a route with its
// own auth, portals made on demand, and errors that tell the host what to do with a failed delivery.
import { timingSafeEqual } from 'node:crypto';
import {
  PermanentError,
  RetryLaterError,
  type AliasQueryHandler,
  type BridgeContext,
  type BridgeDescriptor,
  type BridgePlugin,
  type EventContext,
  type HttpRequest,
  type HttpResponse,
  type MatrixEvent,
  type Portal,
} from 'patchbay-matrix/plugin';
import { configSchema, type WebhookConfig } from './config.js';

const NETWORK = 'webhook';
const CHANNEL = /^[a-z0-9._-]{1,64}$/;

export const webhookDescriptor: BridgeDescriptor = { protocol: 'webhook', ghostPrefix: 'webhook_', aliasPrefix: 'webhook_', configSchema };

/** What an incoming webhook carries. */
interface Incoming {
  /** The sender's message id: the outbox posts each id once, however often it is sent. */
  id: string;
  /** Who says it: becomes the ghost `@webhook_<sender>`. */
  sender: string;
  text: string;
}

function incoming(body: unknown): Incoming {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  for (const key of ['id', 'sender', 'text'] as const) {
    if (typeof b[key] !== 'string' || b[key].length === 0) throw new PermanentError(`"${key}" must be a non-empty string`);
  }
  return b as unknown as Incoming;
}

function sameSecret(given: string, secret: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class WebhookBridge implements BridgePlugin<WebhookConfig>, AliasQueryHandler {
  readonly descriptor = webhookDescriptor;
  private ctx: BridgeContext<WebhookConfig> | null = null;

  private get context(): BridgeContext<WebhookConfig> {
    if (!this.ctx) throw new Error('the webhook bridge is not started');
    return this.ctx;
  }

  async start(ctx: BridgeContext<WebhookConfig>): Promise<void> {
    this.ctx = ctx;
    ctx.http.authorize((req) => sameSecret(req.headers.authorization ?? '', `Bearer ${ctx.config.secret}`));
    ctx.http.route('POST', '/hooks/:channel', (req) => this.receive(req));
    ctx.logger.info({ url: ctx.http.baseUrl && `${ctx.http.baseUrl}/hooks/<channel>`, outgoing: ctx.config.outgoing_url !== null }, 'webhook bridge ready');
  }

  async stop(): Promise<void> {
    this.ctx = null;
  }

  /** HTTP in: into the outbox, which posts it in order and once. Runs in whichever process serves HTTP. */
  private async receive(req: HttpRequest): Promise<HttpResponse> {
    const channel = req.params.channel ?? '';
    if (!CHANNEL.test(channel)) throw new PermanentError('a channel name is 1-64 of a-z 0-9 . _ -');
    const message = incoming(req.json());
    const portal = await this.portal(channel);
    await this.context.outbox.enqueue({
      remoteId: message.id,
      roomId: portal.roomId,
      senderRemoteId: message.sender,
      senderProfile: { displayName: message.sender },
      type: 'm.room.message',
      content: { msgtype: 'm.text', body: message.text },
    });
    return { status: 202, json: { room_id: portal.roomId } };
  }

  /** HTTP out: what people say in a channel's room goes to outgoing_url. */
  async onMatrixEvent(event: MatrixEvent, ectx: EventContext): Promise<void> {
    const { outgoing_url: url, outgoing_secret: secret, outgoing_timeout_ms: timeout } = this.context.config;
    if (url === null || ectx.fromBridge || event.type !== 'm.room.message' || typeof event.content.body !== 'string') return;
    const channel = (await this.context.links.remotesFor(event.room_id)).find((r) => r.network === NETWORK)?.location;
    if (channel === undefined) return;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          // The receiver can drop a repeat: delivery is at least once.
          'idempotency-key': event.event_id,
          ...(secret !== null ? { authorization: `Bearer ${secret}` } : {}),
        },
        body: JSON.stringify({ channel, event_id: event.event_id, sender: event.sender, text: event.content.body, ts: event.origin_server_ts }),
        signal: AbortSignal.timeout(timeout),
      });
    } catch (err) {
      throw new RetryLaterError(`the webhook receiver could not be reached (${err instanceof Error ? err.message : String(err)})`, { delayMs: 5_000 });
    }
    if (response.ok) return;
    if (response.status === 429 || response.status >= 500) {
      const after = Number(response.headers.get('retry-after'));
      throw new RetryLaterError(`the webhook receiver answered ${response.status}`, { delayMs: Number.isFinite(after) && after > 0 ? after * 1000 : 5_000 });
    }
    throw new PermanentError(`the webhook receiver refused the message (${response.status})`);
  }

  /** Someone joins #webhook_<channel> before any webhook came: make the channel's room. */
  async onAliasQuery(alias: string): Promise<boolean> {
    const channel = alias.slice(1 + webhookDescriptor.aliasPrefix.length, alias.lastIndexOf(':'));
    if (!CHANNEL.test(channel)) return false;
    await this.portal(channel);
    return true;
  }

  private portal(channel: string): Promise<Portal> {
    return this.context.portals.ensure({ network: NETWORK, location: channel }, { alias: channel, name: `${channel} (webhook)` });
  }
}
