// GET https://<host>/.well-known/matrix/server for WellKnownServer: HTTPS with the system's CAs, 10 s
// in all, at most 64 KiB, redirects followed (https only, at most 5), and every connection, first or
// redirected, through the OutboundGuard of the server name asked about, so a .well-known cannot send
// the homeserver to a private address either.
import { request, type RequestOptions } from 'node:https';
import type { OutboundGuard } from '../transport/OutboundGuard.js';
import { WELL_KNOWN_MAX_BODY_BYTES, type WellKnownFetch, type WellKnownResponse } from './WellKnownServer.js';

const MAX_REDIRECTS = 5;
const TIMEOUT_MS = 10_000;

type Answer = { status: number; location: string | null; cacheControl: string | null; body: Buffer };

function get(url: URL, extra: RequestOptions, deadline: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...extra, method: 'GET', timeout: Math.max(1, deadline - Date.now()) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > WELL_KNOWN_MAX_BODY_BYTES) req.destroy(new Error('the answer is too large'));
        else chunks.push(c);
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          location: res.headers.location ?? null,
          cacheControl: res.headers['cache-control'] ?? null,
          body: Buffer.concat(chunks),
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer in time')));
    req.on('error', reject);
    req.end();
  });
}

export function wellKnownOverHttps(guard: OutboundGuard): WellKnownFetch {
  return async (host): Promise<WellKnownResponse> => {
    const deadline = Date.now() + TIMEOUT_MS;
    try {
      let url = new URL(`https://${host}/.well-known/matrix/server`);
      for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
        const target = url.hostname.replace(/^\[|\]$/g, '');
        const answer = await get(url, guard.connectOptions(host, target), deadline);
        if (answer.status >= 300 && answer.status < 400 && answer.location !== null) {
          url = new URL(answer.location, url);
          if (url.protocol !== 'https:') return { ok: false };
          continue;
        }
        if (answer.status !== 200) return { ok: false };
        return { ok: true, body: JSON.parse(answer.body.toString('utf8')) as unknown, cacheControl: answer.cacheControl };
      }
      return { ok: false };
    } catch {
      return { ok: false };
    }
  };
}
