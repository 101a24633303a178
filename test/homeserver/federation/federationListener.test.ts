// homeserver.federation.listener: a.test serves the federation API on a port of its own, b.test on its
// client port (the default). Each of A's ports answers only its own side (the other's paths are 404
// M_UNRECOGNIZED, as on Synapse's client port), .well-known/matrix/server stays on the client port, and
// the two servers federate both ways: b.test reaches A at its federation port, A reaches B at B's client
// port. A federation port that cannot be listened on fails the start and leaves nothing listening.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateSigningKeys } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import { enc, federationClientAs, loopbackFederationOptions, registerUser, startTestHomeserver, waitFor, type TestHomeserver, type TestUser } from '../../harness/index.js';

let dir: string;
let a: TestHomeserver;
let b: TestHomeserver;
let alice: TestUser; // on A
let bob: TestUser; // on B
let aFederationUrl: string;

const federation = (name: string, peers: Record<string, string>) => loopbackFederationOptions(name, peers, ['a.test', 'b.test']);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pb-fedlisten-'));
  const aPeers: Record<string, string> = {};
  a = await startTestHomeserver({
    serverName: 'a.test',
    signingKeyFile: join(dir, 'a.key'),
    federation: federation('a.test', aPeers),
    federationListener: { bind: '127.0.0.1', port: 0 },
  });
  aFederationUrl = `http://127.0.0.1:${a.running.federationPort}`;
  b = await startTestHomeserver({ serverName: 'b.test', signingKeyFile: join(dir, 'b.key'), federation: federation('b.test', { 'a.test': aFederationUrl }) });
  aPeers['b.test'] = b.url;
  alice = await registerUser(a.url, 'alice');
  bob = await registerUser(b.url, 'bob');
  await alice.http.ok('PUT', `/_matrix/client/v3/profile/${enc(alice.userId)}/displayname`, { body: { displayname: 'Alice on A' } });
  await bob.http.ok('PUT', `/_matrix/client/v3/profile/${enc(bob.userId)}/displayname`, { body: { displayname: 'Bob on B' } });
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

const get = async (url: string): Promise<{ status: number; body: Record<string, unknown> }> => {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('a federation listener of its own', () => {
  it('is a port other than the client port, and the running homeserver says which', () => {
    expect(a.running.federationPort).toEqual(expect.any(Number));
    expect(a.running.federationPort).not.toBe(a.port);
    expect(b.running.federationPort).toBe(b.port);
  });

  it('serves the key server and the signed federation API; the client API is 404 there', async () => {
    const keys = await get(`${aFederationUrl}/_matrix/key/v2/server`);
    expect(keys.status).toBe(200);
    expect(keys.body['server_name']).toBe('a.test');
    // Served, and refused for want of a signature.
    expect((await get(`${aFederationUrl}/_matrix/federation/v1/query/profile?user_id=${enc(alice.userId)}`)).status).toBe(401);
    expect(await get(`${aFederationUrl}/_matrix/client/versions`)).toEqual({ status: 404, body: expect.objectContaining({ errcode: 'M_UNRECOGNIZED' }) });
    expect((await get(`${aFederationUrl}/.well-known/matrix/server`)).status).toBe(404);
    expect((await get(`${aFederationUrl}/_matrix/federation/v1/openid/userinfo?access_token=nope`)).body['errcode']).toBe('M_UNKNOWN_TOKEN');
  });

  it('leaves the client port the Client-Server API and .well-known: federation paths are 404 M_UNRECOGNIZED there', async () => {
    expect((await get(`${a.url}/_matrix/client/versions`)).status).toBe(200);
    expect(await get(`${a.url}/.well-known/matrix/server`)).toEqual({ status: 200, body: { 'm.server': 'a.test:443' } });
    for (const path of ['/_matrix/key/v2/server', `/_matrix/federation/v1/query/profile?user_id=${enc(alice.userId)}`, '/_matrix/federation/v1/openid/userinfo?access_token=nope']) {
      expect(await get(`${a.url}${path}`)).toEqual({ status: 404, body: expect.objectContaining({ errcode: 'M_UNRECOGNIZED' }) });
    }
  });

  it('answers signed requests at the federation port', async () => {
    const asB = federationClientAs('b.test', loadOrCreateSigningKeys(join(dir, 'b.key')).current, { 'a.test': aFederationUrl });
    expect(await asB.request('a.test', 'GET', `/_matrix/federation/v1/query/profile?user_id=${enc(alice.userId)}`)).toEqual({ displayname: 'Alice on A' });
  });

  it('federates both ways: profiles, and a room made on A joined from B with messages across', async () => {
    expect(await bob.http.ok('GET', `/_matrix/client/v3/profile/${enc(alice.userId)}`)).toEqual({ displayname: 'Alice on A' });
    expect(await alice.http.ok('GET', `/_matrix/client/v3/profile/${enc(bob.userId)}`)).toEqual({ displayname: 'Bob on B' });
    const roomId = (await alice.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', { body: { preset: 'public_chat' } })).room_id;
    await bob.http.ok('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { query: { server_name: 'a.test' }, body: {} });
    await bob.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/t1`, { body: { msgtype: 'm.text', body: 'from B' } });
    const bodies = async (): Promise<unknown[]> =>
      (await alice.http.ok<{ chunk: Array<{ content: { body?: unknown } }> }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages`, { query: { dir: 'b' } })).chunk.map((e) => e.content.body);
    await waitFor(async () => (await bodies()).includes('from B'), 20_000, 'B’s message on A');
  });
});

describe('a federation port that cannot be listened on', () => {
  it('fails the start with the listen error and leaves the client port free', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const clientPort = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    try {
      const start = startTestHomeserver({
        serverName: 'c.test',
        port: clientPort,
        federation: federation('c.test', {}),
        federationListener: { bind: '127.0.0.1', port: (taken.address() as { port: number }).port },
      });
      await expect(start).rejects.toMatchObject({ code: 'EADDRINUSE' });
      const again = createServer();
      await new Promise<void>((resolve, reject) => {
        again.once('error', reject);
        again.listen(clientPort, '127.0.0.1', resolve);
      });
      await new Promise((resolve) => again.close(resolve));
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
