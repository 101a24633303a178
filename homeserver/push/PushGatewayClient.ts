// POSTs notifications to push gateways (`/_matrix/push/v1/notify`). A pusher's URL comes from a user, so
// the homeserver would otherwise make requests anywhere they point: to loopback, link-local and private
// addresses (an admin interface, a cloud metadata service) it connects only when
// homeserver.push.allow_private_gateways says so. The check is made on the addresses the name resolves
// to, in the connection's own lookup, so a name that resolves differently later is still caught.
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { isPrivateAddress, publicOnlyLookup } from '../http/PrivateAddresses.js';

export class PushGatewayError extends Error {
  constructor(
    message: string,
    /** The gateway's HTTP status, when it answered. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'PushGatewayError';
  }
}

export interface PushGatewayOptions {
  timeoutMs: number;
  allowPrivateGateways: boolean;
}

const MAX_ANSWER_BYTES = 64 * 1024;

export class PushGatewayClient {
  constructor(private readonly options: PushGatewayOptions) {}

  /** Sends one notification; resolves to the pushkeys the gateway rejected. Throws PushGatewayError. */
  notify(url: string, body: unknown): Promise<string[]> {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return Promise.reject(new PushGatewayError(`invalid push gateway URL ${url}`));
    }
    const host = target.hostname.replace(/^\[|\]$/g, '');
    if (!this.options.allowPrivateGateways && isIP(host) !== 0 && isPrivateAddress(host)) {
      return Promise.reject(new PushGatewayError(`push gateway ${host} is a private address (homeserver.push.allow_private_gateways is false)`));
    }
    const payload = Buffer.from(JSON.stringify(body));
    const opts: RequestOptions = {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Content-Length': payload.length },
      timeout: this.options.timeoutMs,
      lookup: this.options.allowPrivateGateways ? undefined : publicGatewayLookup,
    };
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<string[]>((resolve, reject) => {
      const req = send(target, opts, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) req.destroy(new PushGatewayError('push gateway answer too large', res.statusCode));
          else chunks.push(c);
        });
        res.on('error', (err) => reject(new PushGatewayError(err.message, res.statusCode)));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) return reject(new PushGatewayError(`push gateway answered ${status}`, status));
          resolve(rejectedKeys(Buffer.concat(chunks).toString('utf8')));
        });
      });
      req.on('timeout', () => req.destroy(new PushGatewayError(`push gateway gave no answer in ${this.options.timeoutMs} ms`)));
      req.on('error', (err) => reject(err instanceof PushGatewayError ? err : new PushGatewayError(err.message)));
      req.end(payload);
    });
  }
}

function rejectedKeys(text: string): string[] {
  try {
    const parsed = JSON.parse(text) as { rejected?: unknown };
    return Array.isArray(parsed.rejected) ? parsed.rejected.filter((k): k is string => typeof k === 'string') : [];
  } catch {
    return [];
  }
}

/** The connection's lookup: private addresses dropped, a gateway with no other refused. */
const publicGatewayLookup = publicOnlyLookup(
  (hostname) => new PushGatewayError(`push gateway ${hostname} resolves to private addresses only (homeserver.push.allow_private_gateways is false)`),
);
