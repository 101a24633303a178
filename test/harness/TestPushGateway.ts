// A push gateway for tests: an HTTP server on a free port that takes POST /_matrix/push/v1/notify, checks
// every body against the spec's push-gateway schema (when the spec data is here) and records it. It can
// be made to fail (500) or to reject given pushkeys, as a real gateway does for uninstalled apps.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SpecValidator } from './SpecValidator.js';

export interface PushDevice {
  app_id: string;
  pushkey: string;
  pushkey_ts?: number;
  data?: Record<string, unknown>;
  tweaks?: Record<string, unknown>;
}

export interface PushNotification {
  event_id?: string;
  room_id?: string;
  type?: string;
  sender?: string;
  sender_display_name?: string;
  room_name?: string;
  prio?: string;
  content?: Record<string, unknown>;
  counts?: { unread?: number; missed_calls?: number };
  devices: PushDevice[];
}

export class TestPushGateway {
  /** Notifications answered 200, in arrival order. */
  readonly received: PushNotification[] = [];
  /** Every request, failed ones too. */
  attempts = 0;
  /** Schema errors of the bodies received (empty when all conformed or the spec data is absent). */
  readonly schemaErrors: string[] = [];
  down = false;
  readonly rejectedKeys = new Set<string>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(spec: SpecValidator | null): Promise<TestPushGateway> {
    let gateway: TestPushGateway | null = null;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const g = gateway!;
          g.attempts++;
          if (req.method !== 'POST' || req.url !== '/_matrix/push/v1/notify') {
            res.writeHead(404).end();
            return;
          }
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { notification: PushNotification };
          if (spec) g.schemaErrors.push(...(await spec.validateRequest('push-gateway/push_notifier.yaml', '/notify', 'post', body)));
          if (g.down) {
            res.writeHead(500, { 'Content-Type': 'application/json' }).end('{}');
            return;
          }
          g.received.push(body.notification);
          const rejected = body.notification.devices.map((d) => d.pushkey).filter((k) => g.rejectedKeys.has(k));
          res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ rejected }));
        })();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    gateway = new TestPushGateway(server, `http://127.0.0.1:${port}/_matrix/push/v1/notify`);
    return gateway;
  }

  /** What reached the gateway for one pushkey. */
  forKey(pushkey: string): PushNotification[] {
    return this.received.filter((n) => n.devices.some((d) => d.pushkey === pushkey));
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
