// The user directory as "start a chat" uses it: matrix-js-sdk's searchUserDirectory finds people who share
// a room with the searcher, people in public rooms and bridge ghosts, by user ID or display name, with
// current profiles; raw HTTP checks limits, privacy and bad input against the spec.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as sdk from 'matrix-js-sdk';
import {
  enc,
  registerUser,
  SpecValidator,
  startSdkClient,
  startTestHomeserver,
  TestAppservice,
  writeAppserviceRegistration,
  type TestHomeserver,
  type TestUser,
} from '../../harness/index.js';

const spec = SpecValidator.load();

interface DirectoryAnswer {
  results: Array<{ user_id: string; display_name?: string; avatar_url?: string }>;
  limited: boolean;
}

describe('user directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pb-userdir-'));
  const bridge = new TestAppservice({ id: 'irc', prefix: 'irc_', protocol: 'irc' });
  let hs: TestHomeserver;
  let alice: TestUser;
  let bob: TestUser;
  let hermit: TestUser;
  let aliceSdk: sdk.MatrixClient;

  async function lookup(user: TestUser, search_term: string, limit?: number): Promise<DirectoryAnswer> {
    const res = await user.http.request<DirectoryAnswer>('POST', '/user_directory/search', { body: { search_term, ...(limit !== undefined && { limit }) } });
    expect(res.status).toBe(200);
    if (spec) expect(await spec.validateResponse('client-server/users.yaml', '/user_directory/search', 'post', 200, res.body)).toEqual([]);
    return res.body;
  }
  const ids = (a: DirectoryAnswer): string[] => a.results.map((r) => r.user_id);

  beforeAll(async () => {
    await bridge.start();
    hs = await startTestHomeserver({ appserviceConfigFiles: [await writeAppserviceRegistration(bridge, dir)] });
    bridge.homeserverUrl = hs.url;
    alice = await registerUser(hs.url, 'alice');
    bob = await registerUser(hs.url, 'bobby');
    hermit = await registerUser(hs.url, 'hermit');
    const shared = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'private_chat', invite: [bob.userId] } })).room_id;
    await bob.http.ok('POST', `/rooms/${enc(shared)}/join`, { body: {} });
    await bob.http.ok('PUT', `/profile/${enc(bob.userId)}/displayname`, { body: { displayname: 'Robert Tables' } });
    await bob.http.ok('PUT', `/profile/${enc(bob.userId)}/avatar_url`, { body: { avatar_url: 'mxc://test/bob' } });
    // A ghost the bridge registered and named, in no room yet.
    await bridge.http.ok('POST', '/register', { body: { type: 'm.login.application_service', username: 'irc_libera_alice', inhibit_login: true } });
    await bridge.http.ok('PUT', `/profile/${enc(`@irc_libera_alice:${hs.serverName}`)}/displayname`, {
      body: { displayname: 'Ålice (IRC)' },
      query: { user_id: `@irc_libera_alice:${hs.serverName}` },
    });
    aliceSdk = await startSdkClient(hs.url, alice);
  });

  afterAll(async () => {
    aliceSdk?.stopClient();
    await hs?.stop();
    await bridge.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('matrix-js-sdk finds a room-mate by display name and a bridge ghost by user ID, case-insensitively', async () => {
    const byName = await aliceSdk.searchUserDirectory({ term: 'robert' });
    expect(byName.results).toEqual([{ user_id: bob.userId, display_name: 'Robert Tables', avatar_url: 'mxc://test/bob' }]);
    expect(byName.limited).toBe(false);
    const ghost = await aliceSdk.searchUserDirectory({ term: 'IRC_LIBERA' });
    expect(ghost.results).toEqual([{ user_id: `@irc_libera_alice:${hs.serverName}`, display_name: 'Ålice (IRC)' }]);
    // Display names beyond ASCII fold too.
    expect(ids(await lookup(alice, 'åLICE'))).toEqual([`@irc_libera_alice:${hs.serverName}`]);
  });

  it('leaves out people the searcher shares nothing with, until they join a public room', async () => {
    expect(ids(await lookup(alice, 'hermit'))).toEqual([]);
    expect(ids(await lookup(hermit, 'robert'))).toEqual([]);
    const lobby = (await hermit.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } })).room_id;
    expect(ids(await lookup(alice, 'hermit'))).toEqual([hermit.userId]);
    await hermit.http.ok('POST', `/rooms/${enc(lobby)}/leave`, { body: {} });
    expect(ids(await lookup(alice, 'hermit'))).toEqual([]);
  });

  it('follows profile changes at once and ranks exact and prefix matches first', async () => {
    await bob.http.ok('PUT', `/profile/${enc(bob.userId)}/displayname`, { body: { displayname: 'Bobby Drop Tables' } });
    expect(ids(await lookup(alice, 'robert'))).toEqual([]);
    expect((await lookup(alice, 'drop')).results[0]).toMatchObject({ user_id: bob.userId, display_name: 'Bobby Drop Tables' });
    // "alice": alice herself (exact localpart) before the ghost whose ID merely contains it.
    expect(ids(await lookup(alice, 'alice'))).toEqual([alice.userId, `@irc_libera_alice:${hs.serverName}`]);
  });

  it('honours limit and says when it cut the list; rejects bad input', async () => {
    for (let i = 0; i < 3; i++) await bridge.http.ok('POST', '/register', { body: { type: 'm.login.application_service', username: `irc_libera_zed${i}`, inhibit_login: true } });
    const cut = await lookup(alice, 'zed', 2);
    expect(cut.results).toHaveLength(2);
    expect(cut.limited).toBe(true);
    expect((await lookup(alice, 'zed', 3)).limited).toBe(false);
    expect((await lookup(alice, '  ')).results).toEqual([]);
    expect((await lookup(alice, '%_')).results).toEqual([]);
    const missing = await alice.http.request<{ errcode: string }>('POST', '/user_directory/search', { body: {} });
    expect([missing.status, missing.body.errcode]).toEqual([400, 'M_MISSING_PARAM']);
    const badLimit = await alice.http.request<{ errcode: string }>('POST', '/user_directory/search', { body: { search_term: 'x', limit: 'ten' } });
    expect([badLimit.status, badLimit.body.errcode]).toEqual([400, 'M_BAD_JSON']);
  });
});
