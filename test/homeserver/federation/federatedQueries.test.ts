// Two embedded homeservers, a.test and b.test, on loopback and mapped to each other in `peers`: a user on
// A reads what lives on B through A's Client-Server API (profiles, aliases, public rooms, device keys,
// one-time keys, media), and B serves the federation side of each, as the spec's schemas say.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authorizationHeader } from '../../../homeserver/federation/auth/RequestAuth.js';
import { loadOrCreateSigningKeys } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import { multipartBoundary, parseMultipart } from '../../../homeserver/federation/transport/MultipartMixed.js';
import { enc, registerUser, SpecValidator, startTestHomeserver, testFederationOptions, type TestHomeserver, type TestUser } from '../../harness/index.js';

const spec = SpecValidator.load();

let dir: string;
let a: TestHomeserver;
let b: TestHomeserver;
let old: Server; // old.test: a server without the v1.11 federation media endpoint
const oldRequests: string[] = [];
let bob: TestUser; // on A
let alice: TestUser; // on B
const MEDIA_LIMIT = 64 * 1024;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pb-fedq-'));
  // Each needs the other's port, known only once it listens: the peer maps are filled in after both start
  // (the resolver reads the map it was given). Both names may be at private (loopback) addresses.
  old = createServer((req, res) => {
    oldRequests.push(req.url ?? '');
    if (req.url?.startsWith('/_matrix/media/v3/download/old.test/legacy')) {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Disposition': "attachment; filename*=utf-8''notes%20%C3%A9.txt" }).end('legacy bytes');
    } else if (req.url?.startsWith('/_matrix/federation/v1/media/download/elsewhere')) {
      const body = '--b\r\nContent-Type: application/json\r\n\r\n{}\r\n--b\r\nLocation: http://169.254.169.254/latest\r\n\r\n\r\n--b--\r\n';
      res.writeHead(200, { 'Content-Type': 'multipart/mixed; boundary=b' }).end(body);
    } else {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}');
    }
  });
  await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', resolve));
  const peersOfA: Record<string, string> = { 'c.test': 'http://127.0.0.1:1', 'old.test': `http://127.0.0.1:${(old.address() as { port: number }).port}` };
  const peersOfB: Record<string, string> = {};
  const allowPrivateAddresses = ['a.test', 'b.test', 'c.test'];
  a = await startTestHomeserver({
    serverName: 'a.test', signingKeyFile: join(dir, 'a.test', 'signing.key'),
    federation: testFederationOptions('a.test', { peers: peersOfA, allowPrivateAddresses, remoteMediaMaxBytes: MEDIA_LIMIT, queryTimeoutMs: 3_000 }),
  });
  b = await startTestHomeserver({ serverName: 'b.test', signingKeyFile: join(dir, 'b.test', 'signing.key'), federation: testFederationOptions('b.test', { peers: peersOfB, allowPrivateAddresses }) });
  peersOfA['b.test'] = `http://127.0.0.1:${b.port}`;
  peersOfB['a.test'] = `http://127.0.0.1:${a.port}`;
  bob = await registerUser(a.url, 'bob');
  alice = await registerUser(b.url, 'alice');
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop(), new Promise<void>((resolve) => old.close(() => resolve()))]);
  rmSync(dir, { recursive: true, force: true });
});

/** A request to B signed with A's key, as A's federation client would send it. */
const signedByA = (method: string, path: string, body?: unknown): Promise<Response> => {
  const key = loadOrCreateSigningKeys(join(dir, 'a.test', 'signing.key')).current;
  return fetch(`${b.url}${path}`, {
    method,
    headers: { Authorization: authorizationHeader({ method, uri: path, content: body }, 'a.test', 'b.test', key), 'Content-Type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
};

describe('profiles', () => {
  it("a user on A reads the profile of a user on B, cached for a minute", async () => {
    await alice.http.ok('PUT', `/profile/${enc(alice.userId)}/displayname`, { body: { displayname: 'Alice of B' } });
    const res = await bob.http.get(`/profile/${enc(alice.userId)}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ displayname: 'Alice of B' });
    expect((await bob.http.get(`/profile/${enc(alice.userId)}/displayname`)).body).toEqual({ displayname: 'Alice of B' });
    expect((await bob.http.get(`/profile/${enc(alice.userId)}/avatar_url`)).status).toBe(404);

    await alice.http.ok('PUT', `/profile/${enc(alice.userId)}/displayname`, { body: { displayname: 'Renamed' } });
    expect((await bob.http.get(`/profile/${enc(alice.userId)}`)).body).toEqual({ displayname: 'Alice of B' });
  });

  it('a user B does not have is 404 M_NOT_FOUND on A', async () => {
    const res = await bob.http.get(`/profile/${enc('@nobody:b.test')}`);
    expect(res.status).toBe(404);
    expect(res.body['errcode']).toBe('M_NOT_FOUND');
  });

  it('a server that cannot be reached is 502, not a hang', async () => {
    const res = await bob.http.get(`/profile/${enc('@someone:c.test')}`);
    expect(res.status).toBe(502);
    expect(String(res.body['error'])).toMatch(/c\.test/);
  });
});

describe('aliases and public rooms', () => {
  let roomId: string;

  beforeAll(async () => {
    const created = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', {
      body: { room_alias_name: 'lobby', name: 'The lobby of B', visibility: 'public', preset: 'public_chat' },
    });
    roomId = created.room_id;
  });

  it('A resolves an alias of B by asking B', async () => {
    const res = await bob.http.get(`/directory/room/${enc('#lobby:b.test')}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ room_id: roomId, servers: ['b.test'] });
    const missing = await bob.http.get(`/directory/room/${enc('#nothing:b.test')}`);
    expect(missing.status).toBe(404);
    expect(missing.body['errcode']).toBe('M_NOT_FOUND');
  });

  it('B answers query/directory as the spec says', async () => {
    const res = await signedByA('GET', `/_matrix/federation/v1/query/directory?room_alias=${enc('#lobby:b.test')}`);
    expect(res.status).toBe(200);
    const body = await res.json();
    if (spec) expect(await spec.validateResponse('server-server/query.yaml', '/query/directory', 'get', 200, body)).toEqual([]);
  });

  it('A lists the public rooms of B (GET and POST with a filter)', async () => {
    const listed = await bob.http.get<{ chunk: Array<Record<string, unknown>> }>('/publicRooms', { query: { server: 'b.test' } });
    expect(listed.status).toBe(200);
    expect(listed.body.chunk.map((r) => r['room_id'])).toContain(roomId);
    expect(listed.body.chunk.find((r) => r['room_id'] === roomId)).toMatchObject({ name: 'The lobby of B', num_joined_members: 1 });

    const filtered = await bob.http.post<{ chunk: unknown[] }>('/publicRooms', { filter: { generic_search_term: 'no such room' } }, { query: { server: 'b.test' } });
    expect(filtered.status).toBe(200);
    expect(filtered.body.chunk).toEqual([]);
  });

  it('B answers publicRooms over federation as the spec says', async () => {
    const res = await signedByA('POST', '/_matrix/federation/v1/publicRooms', { limit: 5, filter: { generic_search_term: 'lobby' } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { chunk: unknown[] };
    expect(body.chunk.length).toBe(1);
    if (spec) expect(await spec.validateResponse('server-server/public_rooms.yaml', '/publicRooms', 'post', 200, body)).toEqual([]);
  });
});

describe('end-to-end encryption keys across servers', () => {
  const curveKey = 'x'.repeat(43);

  beforeAll(async () => {
    await alice.http.ok('POST', '/keys/upload', {
      body: {
        device_keys: {
          user_id: alice.userId,
          device_id: alice.deviceId,
          algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
          keys: { [`curve25519:${alice.deviceId}`]: curveKey, [`ed25519:${alice.deviceId}`]: 'y'.repeat(43) },
          signatures: { [alice.userId]: { [`ed25519:${alice.deviceId}`]: 'sig' } },
        },
        one_time_keys: { 'signed_curve25519:AAAA': { key: 'z'.repeat(43), signatures: { [alice.userId]: { [`ed25519:${alice.deviceId}`]: 'sig' } } } },
      },
    });
  });

  it("A's /keys/query returns the device keys of a user on B, and names a server that fails", async () => {
    const res = await bob.http.post<{ device_keys: Record<string, Record<string, { keys: Record<string, string> }>>; failures: Record<string, unknown> }>(
      '/keys/query',
      { device_keys: { [alice.userId]: [], '@x:c.test': [] }, timeout: 2_000 },
    );
    expect(res.status).toBe(200);
    expect(res.body.device_keys[alice.userId]![alice.deviceId]!.keys[`curve25519:${alice.deviceId}`]).toBe(curveKey);
    expect(Object.keys(res.body.failures)).toEqual(['c.test']);
  });

  it("A's /keys/claim hands out a one-time key of a device on B, once", async () => {
    const claim = (): Promise<{ status: number; body: { one_time_keys: Record<string, Record<string, unknown>>; failures: Record<string, unknown> } }> =>
      bob.http.post('/keys/claim', { one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } } });
    const first = await claim();
    expect(first.status).toBe(200);
    expect(first.body.failures).toEqual({});
    expect(Object.keys(first.body.one_time_keys[alice.userId]![alice.deviceId]!)).toEqual(['signed_curve25519:AAAA']);
    expect((await claim()).body.one_time_keys).toEqual({});
  });

  it('B serves user/devices and user/keys/query as the spec says, for its own users only', async () => {
    const devices = await signedByA('GET', `/_matrix/federation/v1/user/devices/${enc(alice.userId)}`);
    expect(devices.status).toBe(200);
    const body = (await devices.json()) as { devices: Array<{ device_id: string; keys?: unknown }> };
    expect(body.devices.map((d) => d.device_id)).toEqual([alice.deviceId]);
    if (spec) expect(await spec.validateResponse('server-server/user_devices.yaml', '/user/devices/{userId}', 'get', 200, body)).toEqual([]);

    const query = await signedByA('POST', '/_matrix/federation/v1/user/keys/query', { device_keys: { [alice.userId]: [], [bob.userId]: [] } });
    const keys = (await query.json()) as { device_keys: Record<string, unknown> };
    expect(Object.keys(keys.device_keys)).toEqual([alice.userId]);
    if (spec) expect(await spec.validateResponse('server-server/user_keys.yaml', '/user/keys/query', 'post', 200, keys)).toEqual([]);
  });
});

describe('media of another server', () => {
  const upload = async (data: Buffer, type: string): Promise<string> => {
    const res = await fetch(`${b.url}/_matrix/media/v3/upload?filename=photo.png`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${alice.accessToken}`, 'Content-Type': type },
      body: data,
    });
    const { content_uri } = (await res.json()) as { content_uri: string };
    return content_uri.slice('mxc://b.test/'.length);
  };

  it('B serves a medium to A as multipart/mixed: empty JSON metadata, then the bytes', async () => {
    const data = Buffer.from('a picture, really');
    const id = await upload(data, 'image/png');
    const res = await signedByA('GET', `/_matrix/federation/v1/media/download/${id}`);
    expect(res.status).toBe(200);
    const boundary = multipartBoundary(res.headers.get('content-type'));
    expect(boundary).not.toBeNull();
    const parts = parseMultipart(Buffer.from(await res.arrayBuffer()), boundary!);
    expect(parts?.length).toBe(2);
    expect(parts![0]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(parts![0]!.body.toString())).toEqual({});
    expect(parts![1]!.headers['content-type']).toBe('image/png');
    expect(parts![1]!.body).toEqual(data);
  });

  it('a user on A downloads a medium uploaded on B; A keeps it, so it stays there while B is gone', async () => {
    const data = Buffer.from(Array.from({ length: 5000 }, (_v, i) => i % 251));
    const id = await upload(data, 'image/png');
    const get = (): Promise<Response> => fetch(`${a.url}/_matrix/client/v1/media/download/b.test/${id}`, { headers: { Authorization: `Bearer ${bob.accessToken}` } });
    const res = await get();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('content-disposition')).toBe('inline; filename="photo.png"');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(data);

    const unauthenticated = await fetch(`${a.url}/_matrix/media/v3/download/b.test/${id}`);
    expect(unauthenticated.status).toBe(401);

    const big = await upload(Buffer.alloc(MEDIA_LIMIT + 1, 1), 'application/octet-stream');
    const tooBig = await fetch(`${a.url}/_matrix/client/v1/media/download/b.test/${big}`, { headers: { Authorization: `Bearer ${bob.accessToken}` } });
    expect(tooBig.status).toBe(502);
    expect(((await tooBig.json()) as { errcode: string }).errcode).toBe('M_TOO_LARGE');

    await b.stop();
    const cached = await get();
    expect(cached.status).toBe(200);
    expect(Buffer.from(await cached.arrayBuffer())).toEqual(data);
  });

  it('falls back to the legacy download of a server without the federation endpoint, and follows no Location', async () => {
    const get = (id: string): Promise<Response> =>
      fetch(`${a.url}/_matrix/client/v1/media/download/old.test/${id}`, { headers: { Authorization: `Bearer ${bob.accessToken}` } });
    const legacy = await get('legacy');
    expect(legacy.status).toBe(200);
    expect(await legacy.text()).toBe('legacy bytes');
    expect(legacy.headers.get('content-disposition')).toBe("inline; filename*=utf-8''notes%20%C3%A9.txt");
    expect(oldRequests).toEqual([
      expect.stringMatching(/^\/_matrix\/federation\/v1\/media\/download\/legacy\?/),
      expect.stringMatching(/^\/_matrix\/media\/v3\/download\/old\.test\/legacy\?allow_remote=false/),
    ]);

    const redirected = await get('elsewhere');
    expect(redirected.status).toBe(502);
    expect(String(((await redirected.json()) as { error: string }).error)).toMatch(/Location/);
    expect(oldRequests.length).toBe(3);
  });
});
