// A pusher's URL comes from a user: without homeserver.push.allow_private_gateways the homeserver posts
// to no loopback, private or link-local address, whether given literally or by a name resolving to one.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isPrivateAddress } from '../../../homeserver/http/PrivateAddresses.js';
import { PushGatewayClient } from '../../../homeserver/push/PushGatewayClient.js';

describe('PushGatewayClient', () => {
  const server = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"rejected":["gone",7]}'));
  let port = 0;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('tells private addresses from public ones', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', 'not-an-ip']) {
      expect({ a, private: isPrivateAddress(a) }).toEqual({ a, private: true });
    }
    for (const a of ['8.8.8.8', '2001:4860:4860::8888', '::ffff:8.8.8.8']) expect({ a, private: isPrivateAddress(a) }).toEqual({ a, private: false });
  });

  it('refuses loopback by address and by name unless allowed, and returns the rejected pushkeys', async () => {
    const strict = new PushGatewayClient({ timeoutMs: 2_000, allowPrivateGateways: false });
    await expect(strict.notify(`http://127.0.0.1:${port}/_matrix/push/v1/notify`, {})).rejects.toThrow(/private address/);
    await expect(strict.notify(`http://localhost:${port}/_matrix/push/v1/notify`, {})).rejects.toThrow(/private/);
    const open = new PushGatewayClient({ timeoutMs: 2_000, allowPrivateGateways: true });
    expect(await open.notify(`http://127.0.0.1:${port}/_matrix/push/v1/notify`, {})).toEqual(['gone']);
  });
});
