// `patchbay homeserver`'s GET /metrics: a listener of its own (homeserver.metrics), so the Prometheus text
// stays off the client port that faces the internet. `start`, `host` and `worker` serve /metrics on the
// host's port instead.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsListener {
  /** `http://127.0.0.1:9009/metrics` as bound. */
  readonly url: string;
  stop(): Promise<void>;
}

export async function listenForMetrics(registry: Registry, bind: string, port: number): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"errcode":"M_UNRECOGNIZED","error":"Only GET /metrics is served here"}');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err instanceof Error ? err.message : String(err)}`),
    );
  });
  server.listen(port, bind);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/metrics`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
