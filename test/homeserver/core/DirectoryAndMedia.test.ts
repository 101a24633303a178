// Aliases, the public room directory, and the content repository.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreClient, enc, type CoreUser } from './coreHarness.js';

describe('directory and media', () => {
  let c: CoreClient;
  let alice: CoreUser;
  let bob: CoreUser;

  beforeAll(async () => {
    c = await CoreClient.start({ maxUploadBytes: 1000 });
    alice = await c.register('alice');
    bob = await c.register('bob');
  });
  afterAll(() => c.stop());

  it('creates, resolves, lists and deletes aliases', async () => {
    const roomId = await c.createRoom(alice, { room_alias_name: 'lobby' });
    expect(await c.ok('GET', `/directory/room/${enc('#lobby:core.test')}`)).toEqual({ room_id: roomId, servers: ['core.test'] });
    const canonical = await c.ok('GET', `/rooms/${enc(roomId)}/state/m.room.canonical_alias`, { token: alice.token });
    expect(canonical).toEqual({ alias: '#lobby:core.test' });
    const dup = await c.call('POST', '/createRoom', { token: alice.token, body: { room_alias_name: 'lobby' } });
    expect(dup.body['errcode']).toBe('M_ROOM_IN_USE');
    await c.ok('PUT', `/directory/room/${enc('#second:core.test')}`, { token: alice.token, body: { room_id: roomId } });
    const again = await c.call('PUT', `/directory/room/${enc('#second:core.test')}`, { token: alice.token, body: { room_id: roomId } });
    expect(again.status).toBe(409);
    const remote = await c.call('PUT', `/directory/room/${enc('#x:elsewhere.test')}`, { token: alice.token, body: { room_id: roomId } });
    expect(remote.status).toBe(400);
    expect((await c.ok('GET', `/rooms/${enc(roomId)}/aliases`, { token: alice.token }))['aliases']).toEqual([
      '#lobby:core.test',
      '#second:core.test',
    ]);
    const badAlias = await c.call('PUT', `/rooms/${enc(roomId)}/state/m.room.canonical_alias`, { token: alice.token, body: { alias: '#nope:core.test' } });
    expect(badAlias.body['errcode']).toBe('M_BAD_ALIAS');
    const notYours = await c.call('DELETE', `/directory/room/${enc('#second:core.test')}`, { token: bob.token });
    expect(notYours.status).toBe(403);
    await c.ok('DELETE', `/directory/room/${enc('#lobby:core.test')}`, { token: alice.token });
    expect((await c.call('GET', `/directory/room/${enc('#lobby:core.test')}`)).status).toBe(404);
    // The canonical alias no longer points at the deleted alias.
    expect(await c.ok('GET', `/rooms/${enc(roomId)}/state/m.room.canonical_alias`, { token: alice.token })).toEqual({});
  });

  it('publishes rooms, filters and pages the public directory', async () => {
    const names = ['Alpha chat', 'Beta chat', 'Gamma talk'];
    const ids: string[] = [];
    for (const name of names) ids.push(await c.createRoom(alice, { preset: 'public_chat', name, visibility: 'public', topic: `about ${name}` }));
    await c.ok('POST', `/join/${enc(ids[2]!)}`, { token: bob.token, body: {} });
    const hidden = await c.createRoom(alice, { name: 'Hidden chat' });
    expect(await c.ok('GET', `/directory/list/room/${enc(hidden)}`)).toEqual({ visibility: 'private' });
    const bobCannot = await c.call('PUT', `/directory/list/room/${enc(ids[0]!)}`, { token: bob.token, body: { visibility: 'private' } });
    expect(bobCannot.status).toBe(403);

    const page1 = await c.ok('GET', '/publicRooms?limit=2');
    const chunk1 = page1['chunk'] as Array<Record<string, unknown>>;
    expect(chunk1[0]).toMatchObject({ name: 'Gamma talk', num_joined_members: 2, world_readable: false, join_rule: 'public' });
    expect(page1['total_room_count_estimate']).toBe(3);
    const page2 = await c.ok('GET', `/publicRooms?limit=2&since=${page1['next_batch']}`);
    expect((page2['chunk'] as unknown[]).length).toBe(1);
    const search = await c.ok('POST', '/publicRooms', { token: alice.token, body: { filter: { generic_search_term: 'CHAT' } } });
    expect((search['chunk'] as Array<Record<string, unknown>>).map((r) => r['name']).sort()).toEqual(['Alpha chat', 'Beta chat']);
    await c.ok('PUT', `/directory/list/room/${enc(ids[0]!)}`, { token: alice.token, body: { visibility: 'private' } });
    const after = await c.ok('GET', '/publicRooms');
    expect((after['chunk'] as Array<Record<string, unknown>>).map((r) => r['name'])).not.toContain('Alpha chat');
    expect((await c.call('POST', '/publicRooms', { body: {} })).status).toBe(401);
  });

  it('uploads and downloads media, legacy and authenticated, and enforces the size limit', async () => {
    const up = await c.ok('POST', '/_matrix/media/v3/upload?filename=hello.txt', {
      token: alice.token,
      rawBody: 'hello media',
      headers: { 'Content-Type': 'text/plain' },
    });
    const [, server, id] = /^mxc:\/\/([^/]+)\/([A-Za-z0-9]+)$/.exec(up['content_uri'] as string)!;
    expect(server).toBe('core.test');
    const legacy = await fetch(`${c.hs.url}/_matrix/media/v3/download/${server}/${id}`);
    expect(legacy.headers.get('content-type')).toBe('text/plain');
    expect(legacy.headers.get('content-disposition')).toContain('hello.txt');
    expect(await legacy.text()).toBe('hello media');
    const noAuth = await fetch(`${c.hs.url}/_matrix/client/v1/media/download/${server}/${id}`);
    expect(noAuth.status).toBe(401);
    const authed = await fetch(`${c.hs.url}/_matrix/client/v1/media/download/${server}/${id}/renamed.txt`, {
      headers: { Authorization: `Bearer ${alice.token}` },
    });
    expect(authed.headers.get('content-disposition')).toContain('renamed.txt');
    expect(await authed.text()).toBe('hello media');
    const thumb = await fetch(`${c.hs.url}/_matrix/client/v1/media/thumbnail/${server}/${id}?width=32&height=32`, {
      headers: { Authorization: `Bearer ${alice.token}` },
    });
    // Only pictures have thumbnails here (a picture is its own): text has none.
    expect(thumb.status).toBe(400);
    expect(await thumb.json()).toMatchObject({ errcode: 'M_UNKNOWN' });
    expect(await c.ok('GET', '/_matrix/client/v1/media/config', { token: alice.token })).toEqual({ 'm.upload.size': 1000 });
    const big = await c.call('POST', '/_matrix/media/v3/upload', { token: alice.token, rawBody: Buffer.alloc(2000) });
    expect(big.status).toBe(413);
    expect(big.body['errcode']).toBe('M_TOO_LARGE');
    const missing = await c.call('GET', `/_matrix/media/v3/download/${server}/nothinghere`);
    expect(missing.status).toBe(404);

    const created = await c.ok('POST', '/_matrix/media/v1/create', { token: alice.token });
    const [, , reserved] = /^mxc:\/\/([^/]+)\/(.+)$/.exec(created['content_uri'] as string)!;
    const notMine = await c.call('PUT', `/_matrix/media/v3/upload/core.test/${reserved}`, { token: bob.token, rawBody: 'x' });
    expect(notMine.status).toBe(403);
    await c.ok('PUT', `/_matrix/media/v3/upload/core.test/${reserved}`, { token: alice.token, rawBody: 'later', headers: { 'Content-Type': 'text/plain' } });
    const twice = await c.call('PUT', `/_matrix/media/v3/upload/core.test/${reserved}`, { token: alice.token, rawBody: 'again' });
    expect(twice.body['errcode']).toBe('M_CANNOT_OVERWRITE_MEDIA');
    expect(await (await fetch(`${c.hs.url}/_matrix/media/v3/download/core.test/${reserved}`)).text()).toBe('later');
  });
});
