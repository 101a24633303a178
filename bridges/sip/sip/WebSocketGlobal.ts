// sip.js opens its SIP-over-WebSocket connection with the platform's global `WebSocket`: Node 22 and later
// have one, Node 20 does not. Where it is missing, the `ws` package's client takes its place.
import { WebSocket as WsClient } from 'ws';

export function ensureWebSocketGlobal(): void {
  const g = globalThis as { WebSocket?: unknown };
  if (typeof g.WebSocket !== 'function') g.WebSocket = WsClient;
}
