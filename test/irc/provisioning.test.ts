// The IRC bridge's provisioning API through the real stack: the host's HTTP server, the embedded
// homeserver (in this process, so its clock can be set back to issue an expired token), Redis and ngircd. Shared-secret and
// OpenID auth, the room power check, and a link that carries messages both ways until it is unlinked.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { BuiltinBridgeRegistry } from '../../core/plugin-api/index.js';
import { PluginLoader } from '../../core/plugin/PluginLoader.js';
import { IrcTestClient } from '../../bridges/irc/test/IrcTestClient.js';
import { NgircdServer } from '../../bridges/irc/test/NgircdServer.js';
import { enc, registerUser, startBridgeStack, waitFor, type BridgeStack, type TestUser } from '../harness/index.js';

const builtins: BuiltinBridgeRegistry = { irc: async () => (await import('../../bridges/irc/index.js')).default };
const SECRET = 'provisioning-secret-0123456789';

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

describe('IRC provisioning API (host + embedded homeserver + Redis + ngircd)', () => {
  const ircd = new NgircdServer();
  let stack: BridgeStack;
  let alice: TestUser;
  let carol: TestUser;
  let bob: IrcTestClient;
  let roomId = '';
  const realNow = Date.now;
  let clockOffsetMs = 0;

  const call = async (method: string, path: string, auth: string | null, options: { query?: Record<string, string>; body?: unknown } = {}): Promise<Answer> => {
    const url = new URL(`${stack.pipeline!.url}/_matrix/provision/v1${path}`);
    for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v);
    const res = await fetch(url, {
      method,
      headers: { ...(auth !== null && { authorization: `Bearer ${auth}` }), ...(options.body !== undefined && { 'content-type': 'application/json' }) },
      ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const openIdToken = async (user: TestUser): Promise<string> =>
    (await user.http.ok<{ access_token: string }>('POST', `/user/${enc(user.userId)}/openid/request_token`, { body: {} })).access_token;
  const timeline = async (room: string): Promise<Array<{ sender: string; content: { body?: string } }>> =>
    (await alice.http.ok<{ chunk: Array<{ sender: string; content: { body?: string } }> }>('GET', `/rooms/${enc(room)}/messages`, { query: { dir: 'b', limit: 100 } })).chunk;
  const members = async (room: string): Promise<string[]> =>
    Object.keys((await alice.http.ok<{ joined: Record<string, unknown> }>('GET', `/rooms/${enc(room)}/joined_members`)).joined);

  beforeAll(async () => {
    Date.now = () => realNow() + clockOffsetMs;
    await ircd.start();
    bob = new IrcTestClient(ircd.host, ircd.port, 'bob');
    await bob.connect();
    await bob.join('#linked');
    const config = {
      irc: {
        enabled: true,
        networks: { test: { host: ircd.host, port: ircd.port, limits: { lines_per_second: 50, burst: 10, connect_interval_ms: 0 } } },
        provisioning: { enabled: true, shared_secret: SECRET },
      },
    };
    stack = await startBridgeStack({
      appserviceId: 'irc-provisioning',
      bridges: () => new PluginLoader({ builtins }).load(config),
    });
    alice = await registerUser(stack.hs.url, 'alice');
    await alice.http.ok('PUT', `/profile/${enc(alice.userId)}/displayname`, { body: { displayname: 'Alice' } });
    carol = await registerUser(stack.hs.url, 'carol');
    roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat', name: 'linked' } })).room_id;
    await carol.http.ok('POST', `/join/${enc(roomId)}`, { body: {} });
  });

  afterAll(async () => {
    await stack?.stop();
    bob?.close();
    await ircd.stop();
    Date.now = realNow;
  });

  it('refuses a missing or wrong shared secret with 401 and a JSON errcode, never echoing the secret', async () => {
    const missing = await call('GET', '/networks', null);
    expect(missing).toMatchObject({ status: 401, body: { errcode: 'M_MISSING_TOKEN' } });
    const wrong = await call('GET', '/networks', `${SECRET}x`);
    expect(wrong).toMatchObject({ status: 401, body: { errcode: 'M_UNKNOWN_TOKEN' } });
    expect(JSON.stringify(wrong.body)).not.toContain(SECRET);
    const noUser = await call('GET', '/whoami', SECRET);
    expect(noUser).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
  });

  it('lists the networks with the bot connection state from ctx.status', async () => {
    const answer = await waitFor(async () => {
      const a = await call('GET', '/networks', SECRET);
      return (a.body.networks as Array<{ state: string }> | undefined)?.[0]?.state === 'connected' ? a : undefined;
    }, 20_000, 'the network reported connected');
    expect(answer.body.networks).toEqual([{ id: 'test', name: 'test', server: `${ircd.host}:${ircd.port}`, tls: false, state: 'connected', since: expect.any(Number), stale: false }]);
  });

  it('takes a Matrix OpenID token of the user, and refuses an unknown, expired or mismatched one', async () => {
    const token = await openIdToken(alice);
    const me = await call('GET', '/whoami', `openid:${token}`);
    expect(me).toMatchObject({ status: 200, body: { user_id: alice.userId, networks: [{ id: 'test', state: 'disconnected', nick: null, channels: [] }] } });
    expect(await call('GET', '/whoami', 'openid:not-a-token')).toMatchObject({ status: 401, body: { errcode: 'M_UNKNOWN_TOKEN' } });
    expect(await call('GET', '/whoami', `openid:${token}`, { query: { user_id: carol.userId } })).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });

    // A token issued two hours ago (they live one hour): the in-process homeserver's clock is set back
    // for that one request.
    clockOffsetMs = -2 * 3600_000;
    let expired: string;
    try {
      expired = await openIdToken(alice);
    } finally {
      clockOffsetMs = 0;
    }
    expect(await call('GET', '/whoami', `openid:${expired}`)).toMatchObject({ status: 401, body: { errcode: 'M_UNKNOWN_TOKEN' } });
  });

  it('refuses a link by a member without the power to change the room state, and the bot does not stay', async () => {
    const answer = await call('POST', '/link', `openid:${await openIdToken(carol)}`, { body: { room_id: roomId, network: 'test', channel: '#linked' } });
    expect(answer).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    expect(String(answer.body.error)).toContain('power level 0');
    expect(await members(roomId)).not.toContain('@patchbay:localhost');
    const bogus = await call('POST', '/link', SECRET, { query: { user_id: alice.userId }, body: { room_id: roomId, network: 'nope', channel: '#linked' } });
    expect(bogus).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
  });

  it('links the room to a channel for its admin: messages cross both ways', async () => {
    const answer = await call('POST', '/link', `openid:${await openIdToken(alice)}`, { body: { room_id: roomId, network: 'test', channel: '#linked' } });
    expect(answer).toEqual({ status: 200, body: { room_id: roomId, network: 'test', channel: '#linked' } });
    await bob.waitFor((l) => l.command === 'JOIN' && l.nick === 'PatchbayBot' && l.params[0] === '#linked', 20_000);
    const links = await call('GET', '/links', SECRET, { query: { user_id: alice.userId, room_id: roomId } });
    expect(links.body.links).toEqual([{ network: 'test', channel: '#linked' }]);

    await alice.http.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/p1`, { body: { msgtype: 'm.text', body: 'hello through the link' } });
    const line = await bob.waitFor((l) => l.command === 'PRIVMSG' && l.params[0] === '#linked' && l.params[1] === 'hello through the link', 20_000);
    expect(line.nick).toBe('Alice[m]');
    bob.send('PRIVMSG #linked :hello back from irc');
    await waitFor(async () => (await timeline(roomId)).find((e) => e.content.body === 'hello back from irc' && e.sender === '@irc_test_bob:localhost'), 20_000, 'the IRC message in the linked room');

    const whoami = await call('GET', '/whoami', SECRET, { query: { user_id: alice.userId } });
    expect(whoami.body.networks).toEqual([{ id: 'test', name: 'test', state: 'connected', nick: 'Alice[m]', channels: ['#linked'] }]);
  });

  it('unlinks: the bot parts the channel and leaves the room, and the link is gone', async () => {
    const wrongChannel = await call('POST', '/unlink', SECRET, { query: { user_id: alice.userId }, body: { room_id: roomId, network: 'test', channel: '#other' } });
    expect(wrongChannel).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    const answer = await call('POST', '/unlink', SECRET, { query: { user_id: alice.userId }, body: { room_id: roomId, network: 'test', channel: '#linked' } });
    expect(answer).toEqual({ status: 200, body: {} });
    await bob.waitFor((l) => l.command === 'PART' && l.nick === 'PatchbayBot' && l.params[0] === '#linked', 20_000);
    await waitFor(async () => !(await members(roomId)).includes('@patchbay:localhost'), 20_000, 'the bot leaving the room');
    expect(await stack.host.bridge('irc')!.links.remotesFor(roomId)).toEqual([]);
    expect((await timeline(roomId)).some((e) => e.content.body === 'This room is no longer bridged to #linked on test.')).toBe(true);
  });
});
