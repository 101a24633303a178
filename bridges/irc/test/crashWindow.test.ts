// A Matrix message whose process dies while the bridge records it is still delivered when the host hands
// the event over again (it does after a crash), and a message is never sent twice by a redelivery.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { createFakeContext, type FakeContext } from 'patchbay-matrix/plugin/testing';
import type { BridgeContext, MatrixEvent, PluginStore } from 'patchbay-matrix/plugin';
import { type IrcBridge, ircDescriptor } from '../IrcBridge.js';
import type { IrcPluginConfig } from '../IrcConfig.js';
import createIrcBridge from '../index.js';
import { IrcTestClient } from './IrcTestClient.js';
import { NgircdServer } from './NgircdServer.js';

const ALICE = '@alice:hs.test';
const server = new NgircdServer();
let fake: FakeContext<IrcPluginConfig>;
let watcher: IrcTestClient;
let portal = '';
const running: IrcBridge[] = [];

async function startBridge(ctx: BridgeContext<IrcPluginConfig>): Promise<IrcBridge> {
  const bridge = createIrcBridge() as IrcBridge;
  running.push(bridge);
  await bridge.start(ctx);
  return bridge;
}

const said = (text: string): number => watcher.lines.filter((l) => l.command === 'PRIVMSG' && l.params[1] === text).length;
const message = (id: string, body: string): MatrixEvent => ({
  event_id: id,
  room_id: portal,
  sender: ALICE,
  type: 'm.room.message',
  content: { msgtype: 'm.text', body },
  origin_server_ts: Date.now(),
});
const deliver = (bridge: IrcBridge, event: MatrixEvent, attempt: number): Promise<void> =>
  bridge.onMatrixEvent(event, { attempt, relation: {}, fromBridge: false, logger: fake.ctx.logger });

beforeAll(async () => {
  await server.start();
  watcher = new IrcTestClient(server.host, server.port, 'watcher');
  await watcher.connect();
  await watcher.join('#crash');
  fake = createFakeContext<IrcPluginConfig>(ircDescriptor, {
    networks: { n: { host: server.host, port: server.port, limits: { lines_per_second: 100, burst: 20, connect_interval_ms: 0 } } },
  });
  fake.hs.profiles.set(ALICE, { displayName: 'Alice' });
});

afterAll(async () => {
  for (const bridge of running) await bridge.stop().catch(() => undefined);
  watcher?.close();
  await server.stop();
});

test('the process dies while recording a message: the redelivered event still reaches IRC, once', async () => {
  // The first process: its write of the message's record never completes, as if it died right there.
  const stuck: PluginStore = Object.create(fake.ctx.store) as PluginStore;
  stuck.set = (key, value, ttl) => (key.startsWith('pending/') ? new Promise<void>(() => undefined) : fake.ctx.store.set(key, value, ttl));
  const first = await startBridge({ ...fake.ctx, store: stuck });
  await first.onAliasQuery('#irc_n_#crash:hs.test');
  portal = (await fake.intentFor(ALICE).resolveAlias('#irc_n_#crash:hs.test'))!;
  await watcher.waitFor((l) => l.command === 'JOIN' && l.nick === 'PatchbayBot');
  void deliver(first, message('$lost', 'said as the process died'), 1);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await first.stop();

  // The next process gets the event again (the host re-runs a job whose worker died).
  const second = await startBridge(fake.ctx);
  await deliver(second, message('$lost', 'said as the process died'), 2);
  await watcher.waitFor((l) => l.command === 'PRIVMSG' && l.params[1] === 'said as the process died');

  // A redelivery while the message is under way, and one after it arrived, send nothing more.
  const twice = message('$twice', 'only once');
  await deliver(second, twice, 1);
  await deliver(second, twice, 2);
  await watcher.waitFor((l) => l.command === 'PRIVMSG' && l.params[1] === 'only once');
  await fake.hs.waitFor(async () => (await fake.ctx.store.keys('pending/')).length === 0, 10_000, 'the records removed once delivered');
  await deliver(second, twice, 3);
  await deliver(second, message('$last', 'the last one'), 1);
  await watcher.waitFor((l) => l.command === 'PRIVMSG' && l.params[1] === 'the last one');
  expect([said('said as the process died'), said('only once')]).toEqual([1, 1]);
});
