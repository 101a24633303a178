// Bridges cannot decrypt: when a room a bridge carries turns encrypted, the room is told once, by the
// bridge, that its messages no longer cross; m.room.encrypted events stop at the host (counted) instead of
// vanishing inside a plugin. Real pipeline, embedded homeserver, Redis.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { BridgeContext } from '../../../core/plugin-api/index.js';
import { enc, registerUser, startBridgeStack, waitFor, type BridgeStack, type TestUser } from '../../harness/index.js';
import { loadedPlugin, RecordingPlugin } from './RecordingPlugin.js';

interface TimelineEvent {
  event_id: string;
  type: string;
  sender: string;
  content: Record<string, unknown>;
}

describe('encrypted rooms and bridges', () => {
  const plugin = new RecordingPlugin({ protocol: 'tele', networkName: 'phones', ghostPrefix: 'tele_', aliasPrefix: 'tele_' });
  let stack: BridgeStack;
  let ctx: BridgeContext;
  let alice: TestUser;
  let roomId: string;
  let txn = 0;

  const notices = async (): Promise<TimelineEvent[]> =>
    (await alice.http.ok<{ chunk: TimelineEvent[] }>('GET', `/rooms/${enc(roomId)}/messages`, { query: { dir: 'f', limit: 100 } })).chunk.filter(
      (e) => e.type === 'm.room.message' && e.content['msgtype'] === 'm.notice',
    );
  const send = (type: string, content: Record<string, unknown>) =>
    alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(roomId)}/send/${type}/e2ee${++txn}`, { body: content });

  beforeAll(async () => {
    stack = await startBridgeStack({ appserviceId: 'encrypted', bridges: async () => [loadedPlugin('tele', plugin)], logger: pino({ level: 'silent' }) });
    ctx = plugin.ctx as BridgeContext;
    alice = await registerUser(stack.hs.url, 'alice');
    // A room of alice's that the bridge carries: its ghost is in it.
    roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'private_chat' } })).room_id;
    const ghost = await ctx.ghosts.intent('+14155550100');
    await alice.http.ok('POST', `/rooms/${enc(roomId)}/invite`, { body: { user_id: ghost.userId } });
    await ghost.join(roomId);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('tells the room once when it turns encrypted, and carries no ciphertext', async () => {
    const plain = await send('m.room.message', { msgtype: 'm.text', body: 'before' });
    await waitFor(() => plugin.eventIds().includes(plain.event_id), 10_000, 'the plain message');
    expect(await notices()).toEqual([]);

    const on = await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(roomId)}/state/m.room.encryption/`, { body: { algorithm: 'm.megolm.v1.aes-sha2' } });
    const ciphertexts: string[] = [];
    for (let i = 0; i < 3; i++) {
      ciphertexts.push((await send('m.room.encrypted', { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: `AwgA${i}`, sender_key: 'k', session_id: 's', device_id: 'D' })).event_id);
    }
    const after = await send('m.room.message', { msgtype: 'm.text', body: 'a client without encryption' });
    await waitFor(() => plugin.eventIds().includes(after.event_id), 10_000, 'the events after encryption');

    const told = await notices();
    expect(told).toHaveLength(1);
    expect(told[0]!.sender).toBe('@tele_=2b14155550100:localhost');
    expect(told[0]!.content['body']).toBe('This room is end-to-end encrypted, and the phones bridge cannot read encrypted messages: messages sent here will not reach phones.');
    // The state change reaches the plugin; the ciphertext stops at the host.
    expect(plugin.eventIds()).toContain(on.event_id);
    for (const id of ciphertexts) expect(plugin.eventIds()).not.toContain(id);
    const metrics = await stack.metrics.getSingleMetric('patchbay_plugin_events_total')!.get();
    expect(metrics.values.find((v) => v.labels['bridge'] === 'tele' && v.labels['outcome'] === 'encrypted')?.value).toBe(3);
  });

  it('does not tell again after a restart of the host', async () => {
    await stack.restartHost();
    const more = await send('m.room.encrypted', { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'AwgA9', sender_key: 'k', session_id: 's', device_id: 'D' });
    const marker = await send('m.room.message', { msgtype: 'm.text', body: 'marker' });
    await waitFor(() => plugin.eventIds().includes(marker.event_id), 10_000, 'the marker');
    expect(plugin.eventIds()).not.toContain(more.event_id);
    expect(await notices()).toHaveLength(1);
  });
});
