// A bridged portal over federation: the IRC bridge runs against homeserver a.test (pipeline, host,
// embedded homeserver, ngircd as the IRC peer); a user of b.test joins the portal of #fed by its room id
// through a.test and talks to IRC. B's message reaches the channel from a puppet of the remote user, and
// an IRC line reaches B's /sync, as for a local user of the portal. A b.test user can also reach a portal
// the usual way, from an admin room with the bridge (on b.test) and `!join`: the invite crosses to B.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuiltinBridgeRegistry } from '../../core/plugin-api/index.js';
import { PluginLoader } from '../../core/plugin/PluginLoader.js';
import { IrcTestClient } from '../../bridges/irc/test/IrcTestClient.js';
import { NgircdServer } from '../../bridges/irc/test/NgircdServer.js';
import { enc, loopbackFederationOptions, registerUser, startBridgeStack, startTestHomeserver, waitFor, type BridgeStack, type TestHomeserver, type TestUser } from '../harness/index.js';

const builtins: BuiltinBridgeRegistry = { irc: async () => (await import('../../bridges/irc/index.js')).default };
const federation = (name: string, peers: Record<string, string>) => loopbackFederationOptions(name, peers, ['a.test', 'b.test']);

type SyncEvent = { type: string; sender: string; content: Record<string, unknown> };
type Sync = { next_batch: string; rooms?: { join?: Record<string, { timeline?: { events: SyncEvent[] } }> } };

describe('an IRC portal on a.test, joined and used by a user of b.test', () => {
  const ircd = new NgircdServer();
  let dir: string;
  let stack: BridgeStack;
  let b: TestHomeserver;
  let alice: TestUser;
  let carol: TestUser;
  let dave: IrcTestClient;
  let roomId = '';
  const aPeers: Record<string, string> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pb-fedportal-'));
    await ircd.start();
    dave = new IrcTestClient(ircd.host, ircd.port, 'dave');
    await dave.connect();
    await dave.join('#fed');
    stack = await startBridgeStack({
      appserviceId: 'irc-fed',
      bridges: () => new PluginLoader({ builtins }).load({ irc: { enabled: true, networks: { test: { host: ircd.host, port: ircd.port, quit_debounce: { delay_ms: 0 } } } } }),
      homeserver: { serverName: 'a.test', signingKeyFile: join(dir, 'a.key'), federation: federation('a.test', aPeers) },
    });
    b = await startTestHomeserver({ serverName: 'b.test', signingKeyFile: join(dir, 'b.key'), federation: federation('b.test', { 'a.test': `http://127.0.0.1:${stack.hs.port}` }) });
    aPeers['b.test'] = `http://127.0.0.1:${b.port}`;
    alice = await registerUser(stack.hs.url, 'alice');
    carol = await registerUser(b.url, 'carol');
    await carol.http.ok('PUT', `/profile/${enc(carol.userId)}/displayname`, { body: { displayname: 'Carol' } });
  });

  afterAll(async () => {
    await Promise.all([stack?.stop(), b?.stop()]);
    dave?.close();
    await ircd.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the portal made on a.test by its alias is joined from b.test by room id', async () => {
    roomId = (await alice.http.ok<{ room_id: string }>('POST', `/join/${enc('#irc_test_#fed:a.test')}`, { body: {} })).room_id;
    await dave.waitFor((l) => l.command === 'JOIN' && l.nick === 'PatchbayBot', 20_000);
    const joined = await carol.http.ok<{ room_id: string }>('POST', `/join/${enc(roomId)}`, { query: { server_name: 'a.test' }, body: {} });
    expect(joined.room_id).toBe(roomId);
    await waitFor(async () => {
      const members = await alice.http.ok<{ joined: Record<string, unknown> }>('GET', `/rooms/${enc(roomId)}/joined_members`);
      return Object.keys(members.joined).includes(carol.userId);
    }, 20_000, 'carol in the portal on a.test');
  });

  it('a message of the b.test user reaches the IRC channel from her puppet', async () => {
    await carol.http.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/f1`, { body: { msgtype: 'm.text', body: 'hello from b.test' } });
    const line = await dave.waitFor((l) => l.command === 'PRIVMSG' && l.params[0] === '#fed' && l.params[1] === 'hello from b.test', 20_000);
    expect(line.nick).toBe('Carol[m]');
  });

  it('an IRC line reaches the b.test user’s /sync', async () => {
    dave.send('PRIVMSG #fed :hello from irc');
    const event = await waitFor(async () => {
      const sync = await carol.http.ok<Sync>('GET', '/sync');
      return (sync.rooms?.join?.[roomId]?.timeline?.events ?? []).find((e) => e.content['body'] === 'hello from irc');
    }, 20_000, 'the IRC line in carol’s /sync');
    expect(event.sender).toBe('@irc_test_dave:a.test');
  });

  it('a b.test user whose localpart looks like a ghost’s joins by the portal’s alias and is bridged as a Matrix user, not taken for a ghost', async () => {
    const eve = await registerUser(b.url, 'irc_test_eve');
    const joined = await eve.http.ok<{ room_id: string }>('POST', `/join/${enc('#irc_test_#fed:a.test')}`, { body: {} });
    expect(joined.room_id).toBe(roomId);
    await eve.http.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/e1`, { body: { msgtype: 'm.text', body: 'not a ghost' } });
    const line = await dave.waitFor((l) => l.command === 'PRIVMSG' && l.params[0] === '#fed' && l.params[1] === 'not a ghost', 20_000);
    expect(line.nick).toBe('irc_test_eve[m]');
  });

  it('the b.test user leaving the portal parts her puppet from the channel', async () => {
    await carol.http.ok('POST', `/rooms/${enc(roomId)}/leave`, { body: {} });
    const part = await dave.waitFor((l) => l.command === 'PART' && l.nick === 'Carol[m]', 20_000);
    expect(part.params).toEqual(['#fed', 'Left the Matrix room']);
  });

  it('from an admin room on b.test, !join invites the b.test user to a portal, and she joins it through the invite', async () => {
    await dave.join('#lobby');
    const admin = (await carol.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { is_direct: true, preset: 'trusted_private_chat' } })).room_id;
    await carol.http.ok('POST', `/rooms/${enc(admin)}/invite`, { body: { user_id: '@irc_bridge:a.test' } });
    const notices = async (): Promise<string[]> =>
      (await carol.http.ok<{ chunk: SyncEvent[] }>('GET', `/rooms/${enc(admin)}/messages`, { query: { dir: 'b', limit: 100 } })).chunk
        .filter((e) => e.sender === '@irc_bridge:a.test' && e.content['msgtype'] === 'm.notice')
        .map((e) => String(e.content['body']));
    await waitFor(async () => (await notices()).find((n) => n.includes('!join')), 20_000, 'the help notice on b.test');
    await carol.http.ok('PUT', `/rooms/${enc(admin)}/send/m.room.message/j1`, { body: { msgtype: 'm.text', body: '!join #lobby' } });
    expect(await waitFor(async () => (await notices()).find((n) => n.startsWith('Invited you')), 20_000, 'the !join answer')).toBe('Invited you to #irc_test_#lobby:a.test (#lobby on test).');
    const lobby = await waitFor(async () => {
      const sync = await carol.http.ok<{ rooms?: { invite?: Record<string, unknown> } }>('GET', '/sync');
      return Object.keys(sync.rooms?.invite ?? {}).find((r) => r.endsWith(':a.test'));
    }, 20_000, 'the portal invite on b.test');
    await carol.http.ok('POST', `/join/${enc(lobby)}`, { body: {} });
    await carol.http.ok('PUT', `/rooms/${enc(lobby)}/send/m.room.message/l1`, { body: { msgtype: 'm.text', body: 'in the lobby' } });
    const line = await dave.waitFor((l) => l.command === 'PRIVMSG' && l.params[0] === '#lobby' && l.params[1] === 'in the lobby', 20_000);
    expect(line.nick).toBe('Carol[m]');
  });
});
