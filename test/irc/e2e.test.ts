// The IRC plugin through the real stack: event pipeline (AS API, Redis queues), PluginHost and the
// embedded homeserver over HTTP on the Matrix side; a real ngircd on the IRC side.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { EventDispatcher, QueryResolver, ThirdPartyResolver } from '../../core/contracts.js';
import { createEventPipeline, type EventPipeline } from '../../core/host/index.js';
import type { BuiltinBridgeRegistry } from '../../core/plugin/api.js';
import { PluginHost } from '../../core/plugin/PluginHost.js';
import { PluginLoader } from '../../core/plugin/PluginLoader.js';
import { registrationInputsFor } from '../../core/plugin/RegistrationInputs.js';
import { ManagedRedis } from '../../core/redis/ManagedRedis.js';
import { generateRegistration, writeRegistrationFile } from '../../registration/index.js';
import { IrcTestClient } from '../../bridges/irc/test/IrcTestClient.js';
import { NgircdServer } from '../../bridges/irc/test/NgircdServer.js';
import { enc, registerUser, startTestHomeserver, waitFor, type TestHomeserver, type TestUser } from '../harness/index.js';

interface TimelineEvent {
  event_id: string;
  type: string;
  sender: string;
  state_key?: string;
  content: Record<string, unknown>;
}

// Only the IRC bridge, whatever bridges/registry.ts holds.
const builtins: BuiltinBridgeRegistry = { irc: async () => (await import('../../bridges/irc/index.js')).default };

describe('IRC bridge end to end (pipeline + host + embedded homeserver + ngircd)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-irc-e2e-'));
  const redis = new ManagedRedis({ dir, appendOnly: false });
  const ircd = new NgircdServer();
  const logger = pino({ level: process.env.PATCHBAY_TEST_LOG ?? 'silent' });
  let hs: TestHomeserver;
  let pipeline: EventPipeline;
  let host: PluginHost;
  let alice: TestUser;
  let bob: IrcTestClient;
  let roomId = '';

  const forward = {
    dispatch: (e, a) => host.dispatch(e, a),
    dispatchEphemeral: (e) => host.dispatchEphemeral(e),
    deadLettered: (e, err) => host.deadLettered(e, err),
    userExists: (u) => host.userExists(u),
    aliasExists: (a) => host.aliasExists(a),
    protocol: (p) => host.protocol(p),
    users: (p, f) => host.users(p, f),
    locations: (p, f) => host.locations(p, f),
    usersByMatrixId: (u) => host.usersByMatrixId(u),
    locationsByAlias: (a) => host.locationsByAlias(a),
  } satisfies EventDispatcher & QueryResolver & ThirdPartyResolver;

  const timeline = async (room: string): Promise<TimelineEvent[]> => {
    const res = await alice.http.get<{ chunk: TimelineEvent[] }>(`/rooms/${enc(room)}/messages`, { query: { dir: 'b', limit: 200 } });
    return res.body.chunk.reverse();
  };

  beforeAll(async () => {
    await redis.start();
    await ircd.start();
    bob = new IrcTestClient(ircd.host, ircd.port, 'bob');
    await bob.connect();
    await bob.join('#chat');
    const plugins = await new PluginLoader({ builtins }).load({
      irc: {
        enabled: true,
        networks: {
          test: {
            host: ircd.host,
            port: ircd.port,
            limits: { lines_per_second: 50, burst: 10, connect_interval_ms: 0, reconnect_initial_ms: 50 },
            quit_debounce: { delay_ms: 0 },
          },
        },
      },
    });
    const metrics = new Registry();
    const id = 'irc-e2e';
    const reg = generateRegistration(registrationInputsFor(plugins, { id, url: null, serverName: 'localhost', senderLocalpart: 'patchbay' }));
    pipeline = createEventPipeline({
      registration: { id, hs_token: reg.hs_token },
      redis: redis.connection,
      partitions: 4,
      handlerAttempts: 3,
      role: 'both',
      dispatcher: forward,
      queries: forward,
      thirdParty: forward,
      logger,
      metrics,
      http: { bind: '127.0.0.1', port: 0 },
      tuning: { retryDelayMs: () => 20 },
    });
    await pipeline.start();
    reg.url = pipeline.url;
    const regPath = join(dir, 'registration.yaml');
    await writeRegistrationFile(regPath, reg);
    hs = await startTestHomeserver({ appserviceConfigFiles: [regPath] });
    host = new PluginHost({
      plugins,
      appserviceId: id,
      homeserverUrl: hs.url,
      asToken: reg.as_token,
      serverName: hs.serverName,
      senderLocalpart: 'patchbay',
      redis: redis.connection,
      logger,
      metrics,
      outbox: { partitions: 4, attempts: 3, initialBackoffMs: 20, maxBackoffMs: 100, sendTimeoutMs: 30_000 },
    });
    await host.start();
    alice = await registerUser(hs.url, 'alice');
    await alice.http.ok('PUT', `/profile/${enc(alice.userId)}/displayname`, { body: { displayname: 'Alice' } });
  });

  afterAll(async () => {
    await host?.stop();
    await pipeline?.stop();
    await hs?.stop();
    bob?.close();
    await ircd.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('joining #irc_test_#chat creates the portal; the bot joins the channel; bob appears as a ghost', async () => {
    const joined = await alice.http.ok<{ room_id: string }>('POST', `/join/${enc('#irc_test_#chat:localhost')}`, { body: {} });
    roomId = joined.room_id;
    await bob.waitFor((l) => l.command === 'JOIN' && l.nick === 'PatchbayBot');
    await waitFor(async () => {
      const members = await alice.http.ok<{ joined: Record<string, unknown> }>('GET', `/rooms/${enc(roomId)}/joined_members`);
      return Object.keys(members.joined).includes('@irc_test_bob:localhost');
    }, 20_000, 'bob\'s ghost in the portal room');
  });

  it('Matrix -> IRC and IRC -> Matrix text', async () => {
    await alice.http.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/t1`, { body: { msgtype: 'm.text', body: 'hello from matrix' } });
    const line = await bob.waitFor((l) => l.command === 'PRIVMSG' && l.params[1] === 'hello from matrix', 20_000);
    expect(line.nick).toBe('Alice[m]');
    bob.send('PRIVMSG #chat :hello from irc');
    const event = await waitFor(async () => (await timeline(roomId)).find((e) => e.content.body === 'hello from irc'), 20_000, 'the IRC message in Matrix');
    expect(event.sender).toBe('@irc_test_bob:localhost');
  });

  it('a DM with a ghost reaches the nick, and the answer comes back', async () => {
    const dm = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { is_direct: true, invite: ['@irc_test_bob:localhost'], preset: 'trusted_private_chat' } });
    await waitFor(async () => {
      const members = await alice.http.ok<{ joined: Record<string, unknown> }>('GET', `/rooms/${enc(dm.room_id)}/joined_members`);
      return Object.keys(members.joined).includes('@irc_test_bob:localhost');
    }, 20_000, 'the ghost joining the DM');
    await alice.http.ok('PUT', `/rooms/${enc(dm.room_id)}/send/m.room.message/t2`, { body: { msgtype: 'm.text', body: 'psst bob' } });
    await bob.waitFor((l) => l.command === 'PRIVMSG' && l.params[0] === 'bob' && l.params[1] === 'psst bob', 20_000);
    bob.send('PRIVMSG Alice[m] :psst alice');
    await waitFor(async () => (await timeline(dm.room_id)).find((e) => e.content.body === 'psst alice'), 20_000, 'the PM in the DM');
  });

  it('admin room: inviting @irc_bridge gives the help; !whois answers', async () => {
    const admin = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { is_direct: true, invite: ['@irc_bridge:localhost'], preset: 'trusted_private_chat' } });
    const notices = async (): Promise<string[]> =>
      (await timeline(admin.room_id)).filter((e) => e.sender === '@irc_bridge:localhost' && e.content.msgtype === 'm.notice').map((e) => String(e.content.body));
    await waitFor(async () => (await notices()).find((n) => n.includes('!whois')), 20_000, 'the help notice');
    await alice.http.ok('PUT', `/rooms/${enc(admin.room_id)}/send/m.room.message/t3`, { body: { msgtype: 'm.text', body: '!whois bob' } });
    const answer = await waitFor(async () => (await notices()).find((n) => n.startsWith('bob is')), 20_000, 'the whois answer');
    expect(answer).toContain('~bob@127.0.0.1');
  });

  it('the irc third-party protocol is served through the homeserver', async () => {
    const protocol = await alice.http.get<{ instances: Array<{ network_id: string }> }>('/thirdparty/protocol/irc');
    expect(protocol.status).toBe(200);
    expect(protocol.body.instances.map((i) => i.network_id)).toEqual(['test']);
    const users = await alice.http.get<Array<{ userid: string }>>('/thirdparty/user/irc', { query: { network: 'test', nickname: 'bob' } });
    expect(users.body.map((u) => u.userid)).toEqual(['@irc_test_bob:localhost']);
  });
});
