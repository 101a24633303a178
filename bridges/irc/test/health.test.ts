// What operators see of each IRC network: the bot's state and reason in ctx.status, and the admin rooms
// told once when a network is down and once when it is back. Real ngircd servers: one with ngircd's stock
// NICKLEN of 9, one that wants a password the config gets wrong, and one that is not running.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createFakeContext, type FakeContext } from 'patchbay-matrix/plugin/testing';
import { IrcBridge, ircDescriptor } from '../IrcBridge.js';
import type { IrcPluginConfig, NetworkConfigInput } from '../IrcConfig.js';
import createIrcBridge from '../index.js';
import { IrcTestClient } from './IrcTestClient.js';
import { NgircdServer } from './NgircdServer.js';

const ALICE = '@alice:hs.test';
const short = new NgircdServer({ extraLimits: ['MaxNickLength = 9'] });
const locked = new NgircdServer({ password: 'letmein' });
const flaky = new NgircdServer();
let fake: FakeContext<IrcPluginConfig>;
let bridge: IrcBridge;
let watcher: IrcTestClient;
let adminRoom: string;

const fast = { lines_per_second: 100, burst: 20, connect_concurrency: 4, connect_interval_ms: 0, reconnect_initial_ms: 40, reconnect_max_ms: 80 };
const network = (server: NgircdServer, extra: Partial<NetworkConfigInput> = {}): NetworkConfigInput => ({ host: server.host, port: server.port, limits: fast, ...extra });

async function startBridge(networks: Record<string, NetworkConfigInput>): Promise<void> {
  await bridge?.stop();
  fake.ctx = { ...fake.ctx, config: { networks } };
  bridge = createIrcBridge() as IrcBridge;
  await bridge.start(fake.ctx);
}

const stateOf = (connection: string) => fake.status.now().find((c) => c.connection === connection);
const waitForState = (connection: string, state: string) =>
  fake.hs.waitFor(() => stateOf(connection)?.state === state && stateOf(connection), 20_000, `${connection} to be ${state}`);

beforeAll(async () => {
  await Promise.all([short.start(), locked.start(), flaky.start()]);
  // Its port stays reserved for the restart below; nothing answers there until then.
  await flaky.kill();
  watcher = new IrcTestClient(short.host, short.port, 'watcher');
  await watcher.connect();
  await watcher.join('#short');
  fake = createFakeContext<IrcPluginConfig>(ircDescriptor, { networks: {} });
  fake.hs.profiles.set(ALICE, { displayName: 'Alexander' });
});

afterAll(async () => {
  await bridge?.stop();
  watcher?.close();
  await Promise.all([short.stop(), locked.stop(), flaky.stop()]);
});

describe('IRC network health', () => {
  test('on a server with NICKLEN 9 the bot connects with a shortened nick, and so does a puppet', async () => {
    await startBridge({ short: network(short) });
    const connected = await waitForState('short', 'connected');
    expect(connected.detail).toMatchObject({ nick: 'PatchbayB', server: `${short.host}:${short.port}` });
    // Alice's admin room, which later tests expect to be told about outages.
    adminRoom = fake.hs.createUserRoom(ALICE, ['@irc_bridge:hs.test']);
    await fake.deliver(bridge, { room_id: adminRoom, sender: ALICE, type: 'm.room.member', state_key: '@irc_bridge:hs.test', content: { membership: 'invite', is_direct: true } });
    await fake.deliver(bridge, { room_id: adminRoom, sender: ALICE, content: { msgtype: 'm.text', body: '!join short #short' } });
    await watcher.waitFor((l) => l.command === 'JOIN' && l.nick === 'PatchbayB');
    const portal = await fake.intentFor(ALICE).resolveAlias('#irc_short_#short:hs.test');
    await fake.deliver(bridge, { room_id: portal!, sender: ALICE, content: { msgtype: 'm.text', body: 'hello from a 9-character nick' } });
    const line = await watcher.waitFor((l) => l.command === 'PRIVMSG' && l.params[1] === 'hello from a 9-character nick');
    expect(line.nick).toBe('Alexan[m]');
    expect(fake.hs.notices(adminRoom).some((n) => n.includes('!nick'))).toBe(true);
  });

  test('a wrong password is failed with the reason and the fix; an unreachable network backs off; each admin room is told once', async () => {
    await startBridge({
      short: network(short),
      locked: network(locked, { password: 'wrong' }),
      flaky: network(flaky),
    });
    const failed = await waitForState('locked', 'failed');
    expect(failed.reason).toMatch(/^127\.0\.0\.1:\d+ refused the server password \(Access denied: Bad password\?\)\. Fix: set bridges\.irc\.networks\.locked\.password to the server's password$/);
    const backoff = await waitForState('flaky', 'backoff');
    expect(backoff.reason).toBe(`connection refused by ${flaky.host}:${flaky.port}. Fix: check bridges.irc.networks.flaky.host and bridges.irc.networks.flaky.port, and that the IRC server runs`);
    await waitForState('short', 'connected');

    const told = (name: string) => fake.hs.notices(adminRoom).filter((n) => n.startsWith(`IRC network ${name} is down`));
    await fake.hs.waitFor(() => told('locked').length === 1 && told('flaky').length === 1, 20_000, 'both outages told');
    expect(told('locked')[0]).toContain('refused the server password');
    expect(told('locked')[0]).toContain('given up');
    expect(told('flaky')[0]).toContain('keeps trying');
    // Many more failed attempts later (40-80 ms apart), and after a restart of the bridge: still one notice each.
    await fake.hs.waitFor(() => Number(stateOf('flaky')?.detail?.attempts) >= 10, 20_000, 'ten failed attempts');
    await startBridge({ short: network(short), locked: network(locked, { password: 'wrong' }), flaky: network(flaky) });
    await waitForState('locked', 'failed');
    await fake.hs.waitFor(() => Number(stateOf('flaky')?.detail?.attempts) >= 5, 20_000, 'five more failed attempts');
    expect([told('locked').length, told('flaky').length]).toEqual([1, 1]);
  });

  test('a network that comes back is connected again, and the admin room hears it once', async () => {
    await flaky.start();
    await waitForState('flaky', 'connected');
    const back = await fake.hs.waitFor(() => fake.hs.notices(adminRoom).filter((n) => n === 'IRC network flaky is connected again.'), 20_000, 'the recovery notice');
    expect(back).toHaveLength(1);
    expect(stateOf('flaky')?.reason).toBeUndefined();
  });
});
