// Two embedded homeservers over HTTP: B fetches A's keys (as A's peer, through B's notary endpoint)
// and checks them; B answers a profile query signed with A's key and refuses unsigned or forged ones.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authorizationHeader } from '../../../homeserver/federation/auth/RequestAuth.js';
import { ServerResolver } from '../../../homeserver/federation/discovery/ServerResolver.js';
import { WellKnownServer } from '../../../homeserver/federation/discovery/WellKnownServer.js';
import { readServerKeys } from '../../../homeserver/federation/keys/ServerKeysResponse.js';
import { loadOrCreateSigningKeys } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import { verifyJsonSignature } from '../../../homeserver/federation/signing/SignedJson.js';
import { ServerAcl } from '../../../homeserver/federation/acl/ServerAcl.js';
import { FederationClient, FederationRequestError } from '../../../homeserver/federation/transport/FederationClient.js';
import { OutboundGuard } from '../../../homeserver/federation/transport/OutboundGuard.js';
import { registerUser, SpecValidator, startTestHomeserver, testFederationOptions, type TestHomeserver } from '../../harness/index.js';
import pino from 'pino';

const spec = SpecValidator.load();
const quiet = pino({ level: 'silent' });
const noDns = { srvLookup: async () => [], fetchWellKnown: async () => ({ ok: false as const }) };

let dir: string;
let a: TestHomeserver;
let b: TestHomeserver;
let plain: TestHomeserver;

const federation = (name: string, peers: Record<string, string> = {}) => testFederationOptions(name, { peers, keyValidityMs: 3600_000 });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pb-fed-'));
  a = await startTestHomeserver({ serverName: 'a.test', signingKeyFile: join(dir, 'a.test', 'signing.key'), federation: federation('a.test') });
  b = await startTestHomeserver({ serverName: 'b.test', signingKeyFile: join(dir, 'b.test', 'signing.key'), federation: federation('b.test', { 'a.test': `http://127.0.0.1:${a.port}` }) });
  plain = await startTestHomeserver({ serverName: 'c.test' });
  await registerUser(b.url, 'alice');
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop(), plain?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

const json = async (res: Response): Promise<Record<string, unknown>> => (await res.json()) as Record<string, unknown>;

describe('the key server', () => {
  it("serves A's self-signed keys, as the spec's schema says", async () => {
    const res = await fetch(`${a.url}/_matrix/key/v2/server`);
    expect(res.status).toBe(200);
    const body = await json(res);
    const onDisk = loadOrCreateSigningKeys(join(dir, 'a.test', 'signing.key')).current;
    const keys = readServerKeys('a.test', body, Date.now());
    expect(Buffer.from(keys.get(onDisk.keyId)!.key)).toEqual(Buffer.from(onDisk.key.publicKey));
    expect(body['valid_until_ts']).toBeGreaterThan(Date.now() + 3500_000);
    if (spec) expect(await spec.validateResponse('server-server/keys_server.yaml', '/server', 'get', 200, body)).toEqual([]);
  });

  it("B fetches A's keys over HTTP and vouches for them as a notary", async () => {
    const res = await fetch(`${b.url}/_matrix/key/v2/query`, {
      method: 'POST',
      body: JSON.stringify({ server_keys: { 'a.test': { 'ed25519:whatever': { minimum_valid_until_ts: Date.now() } }, 'nowhere.test': {} } }),
    });
    expect(res.status).toBe(200);
    const body = await json(res);
    if (spec) expect(await spec.validateResponse('server-server/keys_query.yaml', '/query', 'post', 200, body)).toEqual([]);
    const list = body['server_keys'] as Array<Record<string, unknown>>;
    expect(list.map((k) => k['server_name'])).toEqual(['a.test']);
    const fromA = list[0]!;
    readServerKeys('a.test', fromA, Date.now()); // A's own signature holds
    const bKeys = readServerKeys('b.test', await json(await fetch(`${b.url}/_matrix/key/v2/server`)), Date.now());
    const [bKeyId, bKey] = [...bKeys.entries()][0]!;
    expect(verifyJsonSignature(fromA, 'b.test', bKeyId, bKey.key)).toBe(true);

    const single = await json(await fetch(`${b.url}/_matrix/key/v2/query/a.test`));
    expect((single['server_keys'] as unknown[]).length).toBe(1);
  });

  it('serves .well-known/matrix/server only with federation on', async () => {
    expect(await json(await fetch(`${a.url}/.well-known/matrix/server`))).toEqual({ 'm.server': 'a.test:443' });
    expect((await fetch(`${plain.url}/.well-known/matrix/server`)).status).toBe(404);
    expect((await fetch(`${plain.url}/_matrix/key/v2/server`)).status).toBe(404);
  });
});

describe('X-Matrix requests between the two', () => {
  const profilePath = '/_matrix/federation/v1/query/profile?user_id=%40alice%3Ab.test';
  const signedByA = (method: string, uri: string, destination = 'b.test'): string =>
    authorizationHeader({ method, uri }, 'a.test', destination, loadOrCreateSigningKeys(join(dir, 'a.test', 'signing.key')).current);

  it('B answers a profile query signed with A\'s key, checked against the key it fetched from A', async () => {
    const res = await fetch(`${b.url}${profilePath}`, { headers: { Authorization: signedByA('GET', profilePath) } });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toEqual({ displayname: 'alice' });
    if (spec) expect(await spec.validateResponse('server-server/query.yaml', '/query/profile', 'get', 200, body)).toEqual([]);
  });

  it("A's FederationClient signs, finds B through its peer map and reads the answer", async () => {
    const client = new FederationClient({
      serverName: 'a.test',
      signing: loadOrCreateSigningKeys(join(dir, 'a.test', 'signing.key')).current,
      resolver: new ServerResolver({ 'b.test': `http://127.0.0.1:${b.port}` }, new WellKnownServer(noDns.fetchWellKnown, quiet)),
      guard: new OutboundGuard(new ServerAcl({ allow: ['*'], deny: [], allowIpLiterals: true }), new Set(['b.test'])),
    });
    expect(await client.request('b.test', 'GET', `${profilePath}&field=displayname`)).toEqual({ displayname: 'alice' });
    const missing = await client.request('b.test', 'GET', '/_matrix/federation/v1/query/profile?user_id=%40nobody%3Ab.test').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(FederationRequestError);
    expect((missing as FederationRequestError).status).toBe(404);
    expect((missing as FederationRequestError).errcode).toBe('M_NOT_FOUND');
  });

  it.each([
    ['no Authorization header', undefined, /Missing Authorization header/],
    ['a signature over another path', () => signedByA('GET', '/_matrix/federation/v1/query/profile?user_id=%40bob%3Ab.test'), /does not verify/],
    ['a request meant for another server', () => signedByA('GET', profilePath, 'c.test'), /is for c.test, not this server/],
    ['a forged origin', () => signedByA('GET', profilePath).replace('origin="a.test"', 'origin="c.test"'), /No valid key|does not verify/],
  ])('B refuses %s with 401 M_UNAUTHORIZED', async (_what, header, reason) => {
    const h = typeof header === 'function' ? header() : header;
    const res = await fetch(`${b.url}${profilePath}`, { headers: h === undefined ? {} : { Authorization: h } });
    expect(res.status).toBe(401);
    const body = await json(res);
    expect(body['errcode']).toBe('M_UNAUTHORIZED');
    expect(String(body['error'])).toMatch(reason);
  });
});
