// RemoteHierarchy (unit): another server's hierarchy answer is hostile input. The room must be the one
// asked for, only summary fields of the right types are kept, children_state only as m.space.child
// events; servers of `via` are asked in turn (never this one, at most three), and answers are cached.
import { describe, expect, it } from '@jest/globals';
import pino from 'pino';
import { RemoteHierarchy } from '../../../homeserver/federation/queries/RemoteHierarchy.js';
import { FederationRequestError, type FederationClient } from '../../../homeserver/federation/transport/FederationClient.js';

function clientAnswering(answers: Record<string, unknown>): { client: FederationClient; asked: string[] } {
  const asked: string[] = [];
  const client = {
    request: async (server: string) => {
      asked.push(server);
      if (!(server in answers)) throw new FederationRequestError(server, 'unreachable');
      return answers[server];
    },
  } as unknown as FederationClient;
  return { client, asked };
}

const room = '!space:b.test';
const good = {
  room: {
    room_id: room,
    num_joined_members: 3,
    name: 'Space',
    join_rule: 'public',
    world_readable: 'yes',
    evil: { nested: true },
    children_state: [
      { type: 'm.space.child', state_key: '!child:b.test', content: { via: ['b.test'] }, sender: '@bob:b.test', origin_server_ts: 5 },
      { type: 'm.room.name', state_key: '', content: {}, sender: '@bob:b.test', origin_server_ts: 5 },
      { type: 'm.space.child', state_key: 'not a room', content: {}, sender: '@bob:b.test', origin_server_ts: 5 },
    ],
  },
  children: [{ room_id: '!child:b.test', num_joined_members: 1 }, { room_id: '!bad:b.test' }, 'junk'],
  inaccessible_children: ['!secret:b.test', 42],
};

describe('RemoteHierarchy', () => {
  it('keeps only what the spec defines, of the right types', async () => {
    const { client } = clientAnswering({ 'b.test': good });
    const space = await new RemoteHierarchy(client, 'a.test', 1000, pino({ level: 'silent' })).space(room, ['b.test'], false);
    expect(space).toEqual({
      room: {
        room_id: room,
        num_joined_members: 3,
        name: 'Space',
        join_rule: 'public',
        world_readable: false,
        guest_can_join: false,
        children_state: [{ type: 'm.space.child', state_key: '!child:b.test', content: { via: ['b.test'] }, sender: '@bob:b.test', origin_server_ts: 5 }],
      },
      children: [{ room_id: '!child:b.test', num_joined_members: 1, world_readable: false, guest_can_join: false, join_rule: 'public' }],
      inaccessible: ['!secret:b.test'],
    });
  });

  it('asks the next server when one fails or answers for another room, never itself, at most three, and caches', async () => {
    const { client, asked } = clientAnswering({ 'c.test': { room: { room_id: '!other:c.test', num_joined_members: 1 } }, 'e.test': good, 'f.test': good });
    const remote = new RemoteHierarchy(client, 'a.test', 1000, pino({ level: 'silent' }));
    expect(await remote.space(room, ['a.test', 'c.test', 'd.test', 'e.test'], false)).not.toBeNull();
    expect(asked).toEqual(['c.test', 'd.test', 'e.test']);
    expect(await remote.space(room, ['f.test'], false)).not.toBeNull();
    expect(asked).toHaveLength(3);
    expect(await remote.space(room, ['c.test', 'd.test', 'x.test', 'f.test'], true)).toBeNull();
    expect(asked).toEqual(['c.test', 'd.test', 'e.test', 'c.test', 'd.test', 'x.test']);
  });
});
