// The auth rules as a unit (against a plain state map) and through the API (kick, ban, power levels).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { authorizeEvent, type EventToAuthorize } from '../../../homeserver/rooms/AuthRules.js';
import type { RoomStateView, StateEntry } from '../../../homeserver/rooms/RoomStateView.js';
import { MatrixError } from '../../../homeserver/MatrixError.js';
import { CoreClient, enc, type CoreUser } from './coreHarness.js';

class MapState implements RoomStateView {
  readonly map = new Map<string, StateEntry>();
  set(type: string, key: string, sender: string, content: Record<string, unknown>): this {
    this.map.set(`${type}|${key}`, { event_id: `$${this.map.size}`, sender, content });
    return this;
  }
  get(type: string, key: string): StateEntry | undefined {
    return this.map.get(`${type}|${key}`);
  }
  size(): number {
    return this.map.size;
  }
}

const A = '@a:x';
const B = '@b:x';
const C = '@c:x';

function room(joinRule = 'invite'): MapState {
  return new MapState()
    .set('m.room.create', '', A, { creator: A, room_version: '10' })
    .set('m.room.member', A, A, { membership: 'join' })
    .set('m.room.power_levels', '', A, { users: { [A]: 100, [B]: 50 }, users_default: 0, state_default: 50, events_default: 0, ban: 50, kick: 50, redact: 50, invite: 0, events: { 'm.room.power_levels': 100 } })
    .set('m.room.join_rules', '', A, { join_rule: joinRule });
}

function denial(ev: EventToAuthorize, state: RoomStateView): string | null {
  try {
    authorizeEvent(ev, state, '10');
    return null;
  } catch (err) {
    if (err instanceof MatrixError && err.errcode === 'M_FORBIDDEN' && err.status === 403) return err.message;
    throw err;
  }
}

const member = (sender: string, target: string, membership: string): EventToAuthorize => ({
  type: 'm.room.member',
  sender,
  state_key: target,
  content: { membership },
});

describe('auth rules (unit)', () => {
  it('lets only the creator join right after the create event', () => {
    const s = new MapState().set('m.room.create', '', A, { creator: A });
    expect(denial(member(A, A, 'join'), s)).toBeNull();
    expect(denial(member(B, B, 'join'), s)).toMatch(/not invited/);
  });

  it('needs an invite to join an invite-only room, none for a public one, and bans win', () => {
    expect(denial(member(C, C, 'join'), room())).toMatch(/not invited/);
    expect(denial(member(C, C, 'join'), room().set('m.room.member', C, A, { membership: 'invite' }))).toBeNull();
    expect(denial(member(C, C, 'join'), room('public'))).toBeNull();
    expect(denial(member(C, C, 'join'), room('public').set('m.room.member', C, A, { membership: 'ban' }))).toMatch(/banned/);
    expect(denial(member(A, C, 'join'), room('public'))).toMatch(/force another user/);
  });

  it('requires membership and the invite level to invite', () => {
    expect(denial(member(C, B, 'invite'), room())).toMatch(/not in the room/);
    const s = room().set('m.room.member', B, B, { membership: 'join' });
    expect(denial(member(B, C, 'invite'), s)).toBeNull();
    const strict = room().set('m.room.member', B, B, { membership: 'join' });
    strict.set('m.room.power_levels', '', A, { users: { [A]: 100 }, invite: 50 });
    expect(denial(member(B, C, 'invite'), strict)).toMatch(/permission to invite/);
  });

  it('lets a user knock only on a knock room, for themselves, and not when banned, joined or invited', () => {
    expect(denial(member(C, C, 'knock'), room('knock'))).toBeNull();
    expect(denial(member(C, C, 'knock'), room('knock_restricted'))).toBeNull();
    expect(denial(member(C, C, 'knock'), room('invite'))).toMatch(/does not allow knocking/);
    expect(denial(member(A, C, 'knock'), room('knock'))).toMatch(/knock for another user/);
    expect(denial(member(C, C, 'knock'), room('knock').set('m.room.member', C, A, { membership: 'ban' }))).toMatch(/banned/);
    expect(denial(member(A, A, 'knock'), room('knock'))).toMatch(/already in the room/);
    expect(denial(member(C, C, 'knock'), room('knock').set('m.room.member', C, A, { membership: 'invite' }))).toMatch(/already invited/);
  });

  it('lets kick and ban only over lower levels, and leave only members', () => {
    const s = room().set('m.room.member', B, B, { membership: 'join' }).set('m.room.member', C, C, { membership: 'join' });
    expect(denial(member(B, C, 'leave'), s)).toBeNull();
    expect(denial(member(B, A, 'leave'), s)).toMatch(/not below yours/);
    expect(denial(member(C, B, 'ban'), s)).toMatch(/permission to ban/);
    expect(denial(member(A, B, 'ban'), s)).toBeNull();
    expect(denial(member('@d:x', '@d:x', 'leave'), s)).toMatch(/not in the room/);
    const banned = room().set('m.room.member', C, A, { membership: 'ban' }).set('m.room.member', B, B, { membership: 'join' });
    expect(denial(member(B, C, 'leave'), banned)).toBeNull(); // unban with level 50 >= ban 50
  });

  it('checks event levels, state keys owned by users, and power level changes', () => {
    const s = room().set('m.room.member', C, C, { membership: 'join' });
    expect(denial({ type: 'm.room.message', sender: C, content: {} }, s)).toBeNull();
    expect(denial({ type: 'm.room.name', sender: C, state_key: '', content: { name: 'x' } }, s)).toMatch(/permission to send m.room.name/);
    expect(denial({ type: 'm.room.message', sender: '@out:x', content: {} }, s)).toMatch(/not in the room/);
    const b = room().set('m.room.member', B, B, { membership: 'join' });
    b.set('m.room.power_levels', '', A, { users: { [A]: 100, [B]: 50 }, state_default: 50, events: {} });
    expect(denial({ type: 'x.custom', sender: B, state_key: A, content: {} }, b)).toMatch(/another user/);
    expect(denial({ type: 'x.custom', sender: B, state_key: B, content: {} }, b)).toBeNull();
    const pl = (users: Record<string, number>, extra: Record<string, unknown> = {}): EventToAuthorize => ({
      type: 'm.room.power_levels',
      sender: B,
      state_key: '',
      content: { users, state_default: 50, events: {}, ...extra },
    });
    expect(denial(pl({ [A]: 100, [B]: 50, [C]: 50 }), b)).toBeNull(); // up to own level
    expect(denial(pl({ [A]: 100, [B]: 50, [C]: 51 }), b)).toMatch(/above your own/);
    expect(denial(pl({ [A]: 0, [B]: 50 }), b)).toMatch(/not below yours/); // demote a higher user
    expect(denial(pl({ [A]: 100, [B]: 10 }), b)).toBeNull(); // demote oneself
    expect(denial(pl({ [A]: 100, [B]: 50 }, { state_default: 60 }), b)).toMatch(/above your own/);
  });
});

describe('auth rules through the API', () => {
  let c: CoreClient;
  let alice: CoreUser;
  let bob: CoreUser;
  let carol: CoreUser;
  let roomId: string;

  beforeAll(async () => {
    c = await CoreClient.start();
    alice = await c.register('alice');
    bob = await c.register('bob');
    carol = await c.register('carol');
    roomId = await c.createRoom(alice, { preset: 'private_chat' });
  });
  afterAll(() => c.stop());

  it('refuses joining an invite-only room uninvited, with M_FORBIDDEN and a reason', async () => {
    const r = await c.call('POST', `/join/${enc(roomId)}`, { token: bob.token, body: {} });
    expect(r.status).toBe(403);
    expect(r.body['errcode']).toBe('M_FORBIDDEN');
    expect(String(r.body['error'])).toMatch(/invite/);
  });

  it('refuses sending into a room one is not in', async () => {
    const r = await c.call('PUT', `/rooms/${enc(roomId)}/send/m.room.message/x1`, { token: bob.token, body: { body: 'hi' } });
    expect(r.status).toBe(403);
    expect(r.body['errcode']).toBe('M_FORBIDDEN');
  });

  it('enforces power levels for state, kick and ban, and lets bans stop joins', async () => {
    await c.ok('POST', `/rooms/${enc(roomId)}/invite`, { token: alice.token, body: { user_id: bob.userId } });
    await c.ok('POST', `/rooms/${enc(roomId)}/join`, { token: bob.token, body: {} });
    await c.ok('POST', `/rooms/${enc(roomId)}/invite`, { token: bob.token, body: { user_id: carol.userId } });
    await c.ok('POST', `/join/${enc(roomId)}`, { token: carol.token, body: {} });

    const name = await c.call('PUT', `/rooms/${enc(roomId)}/state/m.room.name`, { token: bob.token, body: { name: 'nope' } });
    expect(name.status).toBe(403);
    const kick = await c.call('POST', `/rooms/${enc(roomId)}/kick`, { token: bob.token, body: { user_id: carol.userId } });
    expect(kick.status).toBe(403);
    const kickAdmin = await c.call('POST', `/rooms/${enc(roomId)}/ban`, { token: bob.token, body: { user_id: alice.userId } });
    expect(kickAdmin.status).toBe(403);

    await c.ok('POST', `/rooms/${enc(roomId)}/ban`, { token: alice.token, body: { user_id: carol.userId, reason: 'spam' } });
    const rejoin = await c.call('POST', `/join/${enc(roomId)}`, { token: carol.token, body: {} });
    expect(rejoin.status).toBe(403);
    expect(String(rejoin.body['error'])).toMatch(/banned/);
    const member = await c.ok('GET', `/rooms/${enc(roomId)}/state/m.room.member/${enc(carol.userId)}`, { token: alice.token });
    expect(member).toMatchObject({ membership: 'ban', reason: 'spam' });

    await c.ok('POST', `/rooms/${enc(roomId)}/unban`, { token: alice.token, body: { user_id: carol.userId } });
    const stillInviteOnly = await c.call('POST', `/join/${enc(roomId)}`, { token: carol.token, body: {} });
    expect(stillInviteOnly.status).toBe(403);
  });

  it('lets power levels change only within the sender’s own level', async () => {
    const pl = (await c.ok('GET', `/rooms/${enc(roomId)}/state/m.room.power_levels/`, { token: alice.token })) as {
      users: Record<string, number>;
    };
    const raise = await c.call('PUT', `/rooms/${enc(roomId)}/state/m.room.power_levels/`, {
      token: alice.token,
      body: { ...pl, users: { ...pl.users, [bob.userId]: 50 } },
    });
    expect(raise.status).toBe(200);
    const bobPl = (await c.ok('GET', `/rooms/${enc(roomId)}/state/m.room.power_levels`, { token: bob.token })) as {
      users: Record<string, number>;
    };
    const tooHigh = await c.call('PUT', `/rooms/${enc(roomId)}/state/m.room.power_levels`, {
      token: bob.token,
      body: { ...bobPl, users: { ...bobPl.users, [bob.userId]: 100 } },
    });
    expect(tooHigh.status).toBe(403);
    const stringLevel = await c.call('PUT', `/rooms/${enc(roomId)}/state/m.room.power_levels`, {
      token: alice.token,
      body: { ...bobPl, ban: '50' },
    });
    expect(stringLevel.status).toBe(400);
    expect(stringLevel.body['errcode']).toBe('M_BAD_JSON');
    // Bob (50) may now kick; carol is gone, so invite and kick her again.
    await c.ok('POST', `/rooms/${enc(roomId)}/invite`, { token: bob.token, body: { user_id: carol.userId } });
    await c.ok('POST', `/rooms/${enc(roomId)}/kick`, { token: bob.token, body: { user_id: carol.userId, reason: 'bye' } });
    const gone = await c.ok('GET', `/rooms/${enc(roomId)}/state/m.room.member/${enc(carol.userId)}`, { token: alice.token });
    expect(gone).toMatchObject({ membership: 'leave', reason: 'bye' });
  });
});
