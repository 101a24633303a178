// Server-side key backups over HTTP: versions (create, current, update, delete), keys at the three levels,
// count and etag, the spec's rule for which copy of a session to keep, and writes to an old version
// refused with the current one named.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { registerUser, startTestHomeserver, type JsonObject, type TestHomeserver, type TestUser } from '../../harness/index.js';
import { conforms, publicKey } from './e2eeFixtures.js';

const BACKUP = 'client-server/key_backup.yaml';
const ALGORITHM = 'm.megolm_backup.v1.curve25519-aes-sha2';

interface VersionInfo {
  version: string;
  algorithm: string;
  auth_data: JsonObject;
  count: number;
  etag: string;
}

function session(first: number, forwarded: number, verified: boolean, tag: string): JsonObject {
  return { first_message_index: first, forwarded_count: forwarded, is_verified: verified, session_data: { ephemeral: publicKey(), ciphertext: tag, mac: 'mac' } };
}

describe('key backup', () => {
  let hs: TestHomeserver;
  let alice: TestUser;
  let version = '';
  const room = '!room:localhost';

  const current = async (): Promise<VersionInfo> => conforms(BACKUP, '/room_keys/version', 'get', await alice.http.get<VersionInfo>('/room_keys/version'));

  beforeAll(async () => {
    hs = await startTestHomeserver();
    alice = await registerUser(hs.url, 'alice');
  });
  afterAll(() => hs?.stop());

  it('has no backup until one is created, then the new version is current with no keys', async () => {
    const none = await alice.http.get('/room_keys/version');
    await conforms(BACKUP, '/room_keys/version', 'get', none, 404);
    expect(none.body).toMatchObject({ errcode: 'M_NOT_FOUND' });
    const created = await alice.http.post<{ version: string }>('/room_keys/version', { algorithm: ALGORITHM, auth_data: { public_key: 'abc' } });
    version = (await conforms(BACKUP, '/room_keys/version', 'post', created)).version;
    expect(await current()).toEqual({ version, algorithm: ALGORITHM, auth_data: { public_key: 'abc' }, count: 0, etag: '0' });
    const byVersion = await alice.http.get<VersionInfo>(`/room_keys/version/${version}`);
    expect((await conforms(BACKUP, '/room_keys/version/{version}', 'get', byVersion)).version).toBe(version);
  });

  it('stores keys at each level, counts them, and moves the etag on each change', async () => {
    const put = await alice.http.put<{ etag: string; count: number }>(`/room_keys/keys/${encodeURIComponent(room)}/s1`, session(5, 0, false, 'one'), { query: { version } });
    expect(await conforms(BACKUP, '/room_keys/keys/{roomId}/{sessionId}', 'put', put)).toEqual({ etag: '1', count: 1 });
    const roomPut = await alice.http.put(`/room_keys/keys/${encodeURIComponent(room)}`, { sessions: { s2: session(0, 0, false, 'two') } }, { query: { version } });
    expect(await conforms(BACKUP, '/room_keys/keys/{roomId}', 'put', roomPut)).toEqual({ etag: '2', count: 2 });
    const allPut = await alice.http.put('/room_keys/keys', { rooms: { '!other:localhost': { sessions: { s3: session(0, 0, true, 'three') } } } }, { query: { version } });
    expect(await conforms(BACKUP, '/room_keys/keys', 'put', allPut)).toEqual({ etag: '3', count: 3 });

    const all = await alice.http.get<{ rooms: Record<string, { sessions: JsonObject }> }>('/room_keys/keys', { query: { version } });
    const body = await conforms(BACKUP, '/room_keys/keys', 'get', all);
    expect(Object.keys(body.rooms).sort()).toEqual(['!other:localhost', room]);
    expect(Object.keys(body.rooms[room]!.sessions).sort()).toEqual(['s1', 's2']);
    const one = await alice.http.get<JsonObject>(`/room_keys/keys/${encodeURIComponent(room)}/s1`, { query: { version } });
    expect((await conforms(BACKUP, '/room_keys/keys/{roomId}/{sessionId}', 'get', one))['first_message_index']).toBe(5);
    const roomGet = await alice.http.get(`/room_keys/keys/${encodeURIComponent('!empty:localhost')}`, { query: { version } });
    expect(await conforms(BACKUP, '/room_keys/keys/{roomId}', 'get', roomGet)).toEqual({ sessions: {} });
    const missing = await alice.http.get(`/room_keys/keys/${encodeURIComponent(room)}/nope`, { query: { version } });
    expect(missing.status).toBe(404);
    expect(await current()).toMatchObject({ count: 3, etag: '3' });
  });

  it('keeps the better copy of a session: verified, then the lower first index, then the fewer forwards', async () => {
    const path = `/room_keys/keys/${encodeURIComponent(room)}/s1`;
    const stored = async (): Promise<string> =>
      ((await alice.http.ok<JsonObject>('GET', path, { query: { version } }))['session_data'] as JsonObject)['ciphertext'] as string;
    await alice.http.ok('PUT', path, { body: session(9, 0, false, 'worse index'), query: { version } });
    expect(await stored()).toBe('one');
    const unchanged = await current();
    await alice.http.ok('PUT', path, { body: session(3, 0, false, 'better index'), query: { version } });
    expect(await stored()).toBe('better index');
    await alice.http.ok('PUT', path, { body: session(3, 2, false, 'more forwards'), query: { version } });
    expect(await stored()).toBe('better index');
    await alice.http.ok('PUT', path, { body: session(7, 4, true, 'verified'), query: { version } });
    expect(await stored()).toBe('verified');
    await alice.http.ok('PUT', path, { body: session(0, 0, false, 'unverified'), query: { version } });
    expect(await stored()).toBe('verified');
    const after = await current();
    expect(Number(after.etag)).toBe(Number(unchanged.etag) + 2);
    expect(after.count).toBe(3);
  });

  it('refuses writes to a version that is not the current one, naming the current one', async () => {
    const next = (await alice.http.ok<{ version: string }>('POST', '/room_keys/version', { body: { algorithm: ALGORITHM, auth_data: { public_key: 'def' } } })).version;
    expect(next).not.toBe(version);
    const stale = await alice.http.put(`/room_keys/keys/${encodeURIComponent(room)}/s9`, session(0, 0, false, 'x'), { query: { version } });
    await conforms(BACKUP, '/room_keys/keys/{roomId}/{sessionId}', 'put', stale, 403);
    expect(stale.body).toMatchObject({ errcode: 'M_WRONG_ROOM_KEYS_VERSION', current_version: next });
    // The old version can still be read.
    expect((await alice.http.get(`/room_keys/keys`, { query: { version } })).status).toBe(200);
    const noVersion = await alice.http.get('/room_keys/keys');
    expect(noVersion.body).toMatchObject({ errcode: 'M_MISSING_PARAM' });
    version = next;
  });

  it('updates only auth_data, with the same algorithm and version', async () => {
    const res = await alice.http.put(`/room_keys/version/${version}`, { algorithm: ALGORITHM, auth_data: { public_key: 'new' }, version });
    await conforms(BACKUP, '/room_keys/version/{version}', 'put', res);
    expect((await current()).auth_data).toEqual({ public_key: 'new' });
    const otherAlgorithm = await alice.http.put(`/room_keys/version/${version}`, { algorithm: 'm.other', auth_data: {} });
    await conforms(BACKUP, '/room_keys/version/{version}', 'put', otherAlgorithm, 400);
    const otherVersion = await alice.http.put(`/room_keys/version/${version}`, { algorithm: ALGORITHM, auth_data: {}, version: '999' });
    expect(otherVersion.body).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    const unknown = await alice.http.put('/room_keys/version/999', { algorithm: ALGORITHM, auth_data: {} });
    await conforms(BACKUP, '/room_keys/version/{version}', 'put', unknown, 404);
  });

  it('deletes keys (moving the etag) and versions; deleting a version twice is fine, an unknown one is 404', async () => {
    await alice.http.ok('PUT', `/room_keys/keys/${encodeURIComponent(room)}/a`, { body: session(0, 0, false, 'a'), query: { version } });
    await alice.http.ok('PUT', `/room_keys/keys/${encodeURIComponent(room)}/b`, { body: session(0, 0, false, 'b'), query: { version } });
    const one = await alice.http.delete(`/room_keys/keys/${encodeURIComponent(room)}/a`, { query: { version } });
    expect(await conforms(BACKUP, '/room_keys/keys/{roomId}/{sessionId}', 'delete', one)).toEqual({ etag: '3', count: 1 });
    const all = await alice.http.delete('/room_keys/keys', { query: { version } });
    expect(await conforms(BACKUP, '/room_keys/keys', 'delete', all)).toEqual({ etag: '4', count: 0 });

    await conforms(BACKUP, '/room_keys/version/{version}', 'delete', await alice.http.delete(`/room_keys/version/${version}`));
    await conforms(BACKUP, '/room_keys/version/{version}', 'delete', await alice.http.delete(`/room_keys/version/${version}`));
    await conforms(BACKUP, '/room_keys/version/{version}', 'delete', await alice.http.delete('/room_keys/version/12345'), 404);
    expect((await alice.http.get(`/room_keys/version/${version}`)).status).toBe(404);
    expect((await alice.http.get('/room_keys/version')).status).toBe(404);
    // Another user's backups are theirs alone.
    const bob = await registerUser(hs.url, 'bob');
    expect((await bob.http.get('/room_keys/version/1')).status).toBe(404);
  });
});
