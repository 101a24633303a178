// The test stack's restartHost() (what plugin suites use to restart a bridge): an event the pipeline hands
// over while the old host is stopping waits for the new host and is handled there, so its room's
// partition goes on. Real Redis (the job is seen active in BullMQ), the real pipeline and homeserver.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { enc, registerUser, startBridgeStack, waitFor, type BridgeStack, type TestUser } from '../../harness/index.js';
import { loadedPlugin, RecordingPlugin } from './RecordingPlugin.js';

/** Records events; a held stop() waits until the test lets it finish, as a bridge hanging up calls does. */
class SlowStoppingPlugin extends RecordingPlugin {
  holdStop = false;
  stopping = false;
  private release: () => void = () => undefined;

  override async stop(): Promise<void> {
    if (this.holdStop) {
      this.stopping = true;
      await new Promise<void>((resolve) => {
        this.release = resolve;
      });
      this.stopping = false;
      this.holdStop = false;
    }
    await super.stop();
  }

  finishStopping(): void {
    this.release();
  }
}

describe('restartHost: events that arrive while the host restarts', () => {
  const plugin = new SlowStoppingPlugin({ protocol: 'restart', ghostPrefix: 'restart_', aliasPrefix: 'restart_' });
  let stack: BridgeStack;
  let redis: Redis;
  let alice: TestUser;
  let roomId = '';
  let txn = 0;
  const say = async (body: string): Promise<string> =>
    (await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(roomId)}/send/m.room.message/t${txn++}`, { body: { msgtype: 'm.text', body } })).event_id;
  /** Whether a partition worker holds a job carrying this event (BullMQ's active list). */
  const activeJobCarries = async (eventId: string): Promise<boolean> => {
    const prefix = stack.pipeline!.keys.queuePrefix;
    for (const list of await redis.keys(`${prefix}:*:active`)) {
      const queue = list.slice(0, -':active'.length);
      for (const id of await redis.lrange(list, 0, -1)) {
        if ((await redis.hget(`${queue}:${id}`, 'data'))?.includes(eventId)) return true;
      }
    }
    return false;
  };

  beforeAll(async () => {
    stack = await startBridgeStack({ appserviceId: 'host-restart', bridges: async () => [loadedPlugin('restart', plugin)] });
    redis = new Redis(stack.redis.connection);
    alice = await registerUser(stack.hs.url, 'alice');
    roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } })).room_id;
    await plugin.ctx!.bot.join(roomId);
  });

  afterAll(async () => {
    redis?.disconnect();
    await stack?.stop();
  });

  it('a message sent while the old host stops is handled by the new host, and the room\'s next message after it', async () => {
    const before = await say('before the restart');
    await waitFor(() => plugin.eventIds().includes(before), 10_000, 'the first message');
    plugin.holdStop = true;
    const restarting = stack.restartHost();
    await waitFor(() => plugin.stopping, 10_000, 'the old host to stop its bridge');
    const during = await say('while the host restarts');
    await waitFor(() => activeJobCarries(during), 10_000, 'a partition worker to take the message');
    plugin.finishStopping();
    await restarting;
    await waitFor(() => plugin.eventIds().includes(during), 10_000, 'the message sent during the restart');
    const after = await say('after the restart');
    await waitFor(() => plugin.eventIds().includes(after), 10_000, 'the next message');
    expect(await activeJobCarries(during)).toBe(false);
    expect(await stack.pipeline!.deadLetters.get(during)).toBeNull();
  });
});
