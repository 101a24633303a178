// The example bridge against the test kit's fake context: no Redis, no homeserver, milliseconds per
// test. What a plugin author writes for the fast half of their tests.
import { describe, expect, it } from '@jest/globals';
import { createFakeContext } from 'patchbay-matrix/plugin/testing';
import createExampleBridge, { exampleDescriptor, type ExampleConfig } from '../index.js';

const CONFIG: ExampleConfig = { echo_command: '!echo', echo_ghost: 'echo', echo_display_name: 'Echo', record_list: 'received' };
const ALICE = '@alice:hs.test';

async function started() {
  const plugin = createExampleBridge();
  const fake = createFakeContext(exampleDescriptor, CONFIG);
  await plugin.start(fake.ctx);
  return { plugin, fake };
}

describe('the example bridge with a fake context', () => {
  it('echoes as the echo ghost, as a reply, once however often the event comes', async () => {
    const { plugin, fake } = await started();
    const room = fake.hs.createUserRoom(ALICE);
    const event = await fake.deliver(plugin, { room_id: room, sender: ALICE, content: { msgtype: 'm.text', body: '!echo hi' } });
    await fake.deliver(plugin, event, 2);
    await fake.outboxSettled();
    expect(fake.hs.messages(room).map((m) => [m.sender, m.content])).toEqual([
      ['@example_echo:hs.test', { msgtype: 'm.text', body: 'hi', 'm.relates_to': { 'm.in_reply_to': { event_id: event.event_id } } }],
    ]);
  });

  it('opens a conversation with a remote user, made by its ghost, inviting the sender as a DM', async () => {
    const { plugin, fake } = await started();
    const room = fake.hs.createUserRoom(ALICE);
    await fake.deliver(plugin, { room_id: room, sender: ALICE, content: { msgtype: 'm.text', body: '!dm bob' } });
    const dm = await fake.ctx.portals.roomFor({ network: 'example', location: 'bob', receiver: ALICE });
    expect(dm).not.toBeNull();
    const made = fake.hs.room(dm!);
    expect(made.creator).toBe('@example_bob:hs.test');
    expect(made.members.get(ALICE)).toBe('invite');
    expect(made.createOptions).toMatchObject({ is_direct: true, name: 'bob (example)' });
    await fake.outboxSettled();
    expect(fake.hs.messages(dm!).map((m) => m.content.body)).toEqual(['Hello, this is bob on the example network.']);
  });

  it('links a room and gives it the alias; refuses an alias that is another room\'s', async () => {
    const { plugin, fake } = await started();
    const room = fake.hs.createUserRoom(ALICE);
    await fake.deliver(plugin, { room_id: room, sender: ALICE, content: { msgtype: 'm.text', body: '!link lobby' } });
    expect(fake.hs.aliases.get('#example_lobby:hs.test')).toBe(room);
    const other = fake.hs.createUserRoom(ALICE);
    await expect(fake.deliver(plugin, { room_id: other, sender: ALICE, content: { msgtype: 'm.text', body: '!link lobby' } })).rejects.toThrow(
      '#example_lobby:hs.test is already the alias of another room',
    );
  });
});
