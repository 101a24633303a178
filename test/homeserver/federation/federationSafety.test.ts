// Safety of the federation endpoints and of every outbound connection, against real embedded homeservers:
// the config's server list both ways, rate limits per origin (one origin's flood leaves the others
// alone), body size limits, no connection to private addresses through server names (requests, key
// fetches, the notary), and verify keys kept across a restart.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authorizationHeader } from '../../../homeserver/federation/auth/RequestAuth.js';
import { loadOrCreateSigningKeys } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import { enc, rateLimitsWith, registerUser, startTestHomeserver, testFederationOptions, type TestHomeserver, type TestUser } from '../../harness/index.js';

let dir: string;
let a: TestHomeserver;
let b: TestHomeserver;
let c: TestHomeserver;
let carol: TestUser; // on C
/** A TCP listener that counts connections: proof that nothing was sent to it. */
let recorder: Server;
let recorderPort = 0;
let connections = 0;

const keyOf = (name: string) => loadOrCreateSigningKeys(join(dir, name, 'signing.key')).current;

/** A request to `to`, signed as `origin` (its key file under the suite's directory). */
function signed(to: TestHomeserver, origin: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${to.url}${path}`, {
    method,
    headers: { Authorization: authorizationHeader({ method, uri: path, content: body }, origin, to.serverName, keyOf(origin)), 'Content-Type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pb-fedsafe-'));
  recorder = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
  recorderPort = (recorder.address() as { port: number }).port;
  a = await startTestHomeserver({ serverName: 'a.test', signingKeyFile: join(dir, 'a.test', 'signing.key'), federation: testFederationOptions('a.test') });
  b = await startTestHomeserver({ serverName: 'b.test', signingKeyFile: join(dir, 'b.test', 'signing.key'), federation: testFederationOptions('b.test') });
  c = await startTestHomeserver({
    serverName: 'c.test', signingKeyFile: join(dir, 'c.test', 'signing.key'),
    rateLimits: rateLimitsWith({ federation_per_origin: { per_second: 0.01, burst: 3 } }),
    federation: testFederationOptions('c.test', {
      peers: { 'a.test': `http://127.0.0.1:${a.port}`, 'b.test': `http://127.0.0.1:${b.port}`, 'denied.test': `http://127.0.0.1:${recorderPort}` },
      servers: { allow: ['*'], deny: ['denied.test', '*.denied.test'] },
      maxBodyBytes: 4096,
    }),
  });
  await registerUser(c.url, 'target');
  carol = await registerUser(c.url, 'carol');
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
  await new Promise<void>((resolve) => recorder.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

const profilePath = `/_matrix/federation/v1/query/profile?user_id=${enc('@target:c.test')}`;

describe('homeserver.federation.servers', () => {
  it('refuses requests from a denied origin with 403 M_FORBIDDEN', async () => {
    for (const origin of ['denied.test', 'x.denied.test']) {
      const res = await signed(c, origin, 'GET', profilePath);
      expect(res.status).toBe(403);
      expect(((await res.json()) as { errcode: string }).errcode).toBe('M_FORBIDDEN');
    }
  });

  it('never sends to a denied server, even one named in peers', async () => {
    const res = await carol.http.get(`/profile/${enc('@someone:denied.test')}`);
    expect(res.status).toBe(502);
    expect(String(res.body['error'])).toMatch(/not allowed by homeserver\.federation\.servers/);
    expect(connections).toBe(0);
  });
});

describe('rate limits per origin', () => {
  it("a flood from A is refused with 429 and retry_after_ms, and B's requests still pass", async () => {
    const statuses: number[] = [];
    let refused: Record<string, unknown> = {};
    for (let i = 0; i < 6; i++) {
      const res = await signed(c, 'a.test', 'GET', profilePath);
      statuses.push(res.status);
      if (res.status === 429) refused = (await res.json()) as Record<string, unknown>;
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
    expect(refused['errcode']).toBe('M_LIMIT_EXCEEDED');
    expect(refused['retry_after_ms']).toBeGreaterThan(0);
    expect((await signed(c, 'b.test', 'GET', profilePath)).status).toBe(200);
  });
});

describe('body size', () => {
  it('refuses a federation request body over max_body_bytes with 413 M_TOO_LARGE', async () => {
    const users = Object.fromEntries(Array.from({ length: 200 }, (_v, i) => [`@user${i}:c.test`, []]));
    const res = await signed(c, 'b.test', 'POST', '/_matrix/federation/v1/user/keys/query', { device_keys: users });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { errcode: string }).errcode).toBe('M_TOO_LARGE');
  });
});

describe('no private addresses through server names', () => {
  it('refuses an IP-literal server name at a private address', async () => {
    const res = await carol.http.get(`/profile/${enc(`@x:127.0.0.1:${recorderPort}`)}`);
    expect(res.status).toBe(502);
    expect(String(res.body['error'])).toMatch(/127\.0\.0\.1 .*is a private address/);
    expect(connections).toBe(0);
  });

  it('refuses a name that resolves to loopback, checked on the address connected to', async () => {
    const res = await carol.http.get(`/profile/${enc(`@x:localhost:${recorderPort}`)}`);
    expect(res.status).toBe(502);
    expect(String(res.body['error'])).toMatch(/localhost resolves to private addresses only/);
    expect(connections).toBe(0);
  });

  it("fetches no keys from a private address for a request's origin, nor as a notary", async () => {
    const origin = `127.0.0.1:${recorderPort}`;
    const res = await signed(c, origin, 'GET', profilePath);
    expect(res.status).toBe(401);
    const notary = await fetch(`${c.url}/_matrix/key/v2/query`, { method: 'POST', body: JSON.stringify({ server_keys: { [origin]: {}, [`localhost:${recorderPort}`]: {} } }) });
    expect(await notary.json()).toEqual({ server_keys: [] });
    expect(connections).toBe(0);
  });

  it('a private server the config names is reached', async () => {
    const cfg = testFederationOptions('d.test', { allowPrivateAddresses: [`localhost:${recorderPort}`] });
    const d = await startTestHomeserver({ serverName: 'd.test', signingKeyFile: join(dir, 'd.test', 'signing.key'), federation: cfg });
    try {
      const dave = await registerUser(d.url, 'dave');
      const res = await dave.http.get(`/profile/${enc(`@x:localhost:${recorderPort}`)}`);
      expect(res.status).toBe(502);
      expect(String(res.body['error'])).not.toMatch(/private/);
      expect(connections).toBeGreaterThan(0);
    } finally {
      await d.stop();
    }
  });
});

describe('verify keys survive a restart', () => {
  it("a restarted server checks A's signature with the key it stored, while A is unreachable", async () => {
    const storage = { kind: 'sqlite' as const, path: join(dir, 'p.sqlite') };
    const start = (aAddress: string): Promise<TestHomeserver> =>
      startTestHomeserver({ serverName: 'p.test', signingKeyFile: join(dir, 'p.test', 'signing.key'), storage, federation: testFederationOptions('p.test', { peers: { 'a.test': aAddress } }) });
    let p = await start(`http://127.0.0.1:${a.port}`);
    try {
      await registerUser(p.url, 'target');
      const path = `/_matrix/federation/v1/query/profile?user_id=${enc('@target:p.test')}`;
      expect((await signed(p, 'a.test', 'GET', path)).status).toBe(200);
      await p.stop();
      p = await start(`http://127.0.0.1:${recorderPort}`);
      const before = connections;
      expect((await signed(p, 'a.test', 'GET', path)).status).toBe(200);
      expect(connections).toBe(before);
    } finally {
      await p.stop();
    }
  });
});
