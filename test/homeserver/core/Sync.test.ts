// /sync: snapshots and increments, limited timelines with prev_batch that /messages continues from,
// invites and leaves, long-poll wake-ups, ephemeral events, account data and filters.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bodies, CoreClient, enc, type CoreUser, type Event } from './coreHarness.js';

describe('sync', () => {
  let c: CoreClient;
  let alice: CoreUser;
  let bob: CoreUser;

  beforeAll(async () => {
    c = await CoreClient.start();
    alice = await c.register('alice');
    bob = await c.register('bob');
  });
  afterAll(() => c.stop());

  it('gives a joined room its state before the timeline and only new events after since', async () => {
    const roomId = await c.createRoom(alice, { name: 'Room one' });
    await c.send(alice, roomId, 'first');
    const initial = await c.sync(alice);
    const room = initial.rooms.join[roomId]!;
    expect(bodies(room.timeline.events)).toEqual(['first']);
    const everything = [...room.state.events, ...room.timeline.events];
    expect(everything.find((e) => e.type === 'm.room.name')?.content['name']).toBe('Room one');
    expect(everything.filter((e) => e.type === 'm.room.create')).toHaveLength(1);
    expect(room.summary['m.joined_member_count']).toBe(1);
    expect(initial.account_data.events.map((e) => e.type)).toContain('m.push_rules');

    const quiet = await c.sync(alice, { since: initial.next_batch });
    expect(quiet.rooms.join[roomId]).toBeUndefined();
    await c.send(alice, roomId, 'second');
    const next = await c.sync(alice, { since: initial.next_batch });
    const inc = next.rooms.join[roomId]!;
    expect(bodies(inc.timeline.events)).toEqual(['second']);
    expect(inc.timeline.limited).toBe(false);
    expect(inc.state.events).toEqual([]);
  });

  it('marks a gappy timeline limited, with state changes from the gap and a prev_batch /messages continues', async () => {
    const roomId = await c.createRoom(alice, {});
    const base = await c.sync(alice);
    await c.ok('PUT', `/rooms/${enc(roomId)}/state/m.room.name`, { token: alice.token, body: { name: 'Renamed in the gap' } });
    for (let i = 0; i < 8; i++) await c.send(alice, roomId, `g${i}`);
    const filter = JSON.stringify({ room: { timeline: { limit: 3 } } });
    const s = await c.sync(alice, { since: base.next_batch, filter });
    const room = s.rooms.join[roomId]!;
    expect(bodies(room.timeline.events)).toEqual(['g5', 'g6', 'g7']);
    expect(room.timeline.limited).toBe(true);
    expect(room.state.events.find((e) => e.type === 'm.room.name')?.content['name']).toBe('Renamed in the gap');
    const back = await c.ok('GET', `/rooms/${enc(roomId)}/messages?dir=b&limit=5&from=${room.timeline.prev_batch}`, { token: alice.token });
    expect(bodies(back['chunk'] as Event[])).toEqual(['g4', 'g3', 'g2', 'g1', 'g0']);
  });

  it('uses a stored filter by ID, and a types filter on the timeline', async () => {
    const roomId = await c.createRoom(alice, {});
    await c.send(alice, roomId, 'visible');
    const f = await c.ok('POST', `/user/${enc(alice.userId)}/filter`, {
      token: alice.token,
      body: { room: { timeline: { limit: 5, types: ['m.room.message'] } }, presence: { types: [] } },
    });
    expect(await c.ok('GET', `/user/${enc(alice.userId)}/filter/${f['filter_id']}`, { token: alice.token })).toMatchObject({
      room: { timeline: { limit: 5 } },
    });
    const s = await c.sync(alice, { filter: String(f['filter_id']) });
    expect(s.rooms.join[roomId]!.timeline.events.map((e) => e.type)).toEqual(['m.room.message']);
    const unknown = await c.call('GET', '/sync?filter=999', { token: alice.token });
    expect(unknown.status).toBe(400);
    const bad = await c.call('POST', `/user/${enc(alice.userId)}/filter`, { token: alice.token, body: { room: { timeline: { limit: 'x' } } } });
    expect(bad.status).toBe(400);
    const others = await c.call('GET', `/user/${enc(bob.userId)}/filter/0`, { token: alice.token });
    expect(others.status).toBe(403);
  });

  it('shows invites with invite_state, then the joined room, then the leave', async () => {
    const roomId = await c.createRoom(alice, { name: 'Invite test', invite: [bob.userId] });
    const s1 = await c.sync(bob);
    const inv = s1.rooms.invite[roomId]!;
    expect(inv.invite_state.events.find((e) => e['type'] === 'm.room.name')).toMatchObject({ content: { name: 'Invite test' } });
    expect(inv.invite_state.events.find((e) => e['type'] === 'm.room.member')).toMatchObject({
      state_key: bob.userId,
      content: { membership: 'invite' },
    });
    await c.ok('POST', `/rooms/${enc(roomId)}/join`, { token: bob.token, body: {} });
    const s2 = await c.sync(bob, { since: s1.next_batch });
    expect(s2.rooms.invite[roomId]).toBeUndefined();
    const joined = s2.rooms.join[roomId]!;
    expect([...joined.state.events, ...joined.timeline.events].some((e) => e.type === 'm.room.create')).toBe(true);
    await c.send(alice, roomId, 'before leaving');
    await c.ok('POST', `/rooms/${enc(roomId)}/leave`, { token: bob.token, body: {} });
    await c.send(alice, roomId, 'after leaving');
    const s3 = await c.sync(bob, { since: s2.next_batch });
    expect(s3.rooms.join[roomId]).toBeUndefined();
    const left = s3.rooms.leave[roomId]!;
    expect(bodies(left.timeline.events)).toEqual(['before leaving']);
    expect(left.timeline.events.at(-1)).toMatchObject({ type: 'm.room.member', state_key: bob.userId, content: { membership: 'leave' } });
    // A rejected invite shows up as a leave, with nothing of the room's history.
    const other = await c.createRoom(alice, { invite: [bob.userId] });
    await c.send(alice, other, 'private history');
    const s4 = await c.sync(bob, { since: s3.next_batch });
    expect(s4.rooms.invite[other]).toBeDefined();
    await c.ok('POST', `/rooms/${enc(other)}/leave`, { token: bob.token, body: {} });
    const s5 = await c.sync(bob, { since: s4.next_batch });
    expect(bodies(s5.rooms.leave[other]!.timeline.events)).toEqual([]);
    // Initial sync lists left rooms only when the filter asks for them.
    expect((await c.sync(bob)).rooms.leave[roomId]).toBeUndefined();
    const withLeave = await c.sync(bob, { filter: JSON.stringify({ room: { include_leave: true } }) });
    expect(withLeave.rooms.leave[roomId]).toBeDefined();
  });


  it('treats a member who changes their display name as still joined, not newly joined', async () => {
    const roomId = await c.createRoom(alice, { name: 'Names' });
    await c.send(alice, roomId, 'old news');
    const base = await c.sync(alice);
    await c.ok('PUT', `/profile/${enc(alice.userId)}/displayname`, { token: alice.token, body: { displayname: 'Alice Renamed' } });
    const s = await c.sync(alice, { since: base.next_batch });
    const room = s.rooms.join[roomId]!;
    // Only the new member event: no earlier timeline again, no full state, not limited.
    expect(room.timeline.events.map((e) => [e.type, e.content['displayname']])).toEqual([['m.room.member', 'Alice Renamed']]);
    expect(room.timeline.limited).toBe(false);
    expect(room.state.events).toEqual([]);
    // Left and joined again since the token: that is a new join, with the room's state.
    const before = await c.sync(bob);
    await c.ok('POST', `/rooms/${enc(roomId)}/invite`, { token: alice.token, body: { user_id: bob.userId } });
    await c.ok('POST', `/rooms/${enc(roomId)}/join`, { token: bob.token, body: {} });
    const joined = await c.sync(bob, { since: before.next_batch });
    await c.ok('POST', `/rooms/${enc(roomId)}/leave`, { token: bob.token, body: {} });
    await c.ok('POST', `/rooms/${enc(roomId)}/invite`, { token: alice.token, body: { user_id: bob.userId } });
    await c.ok('POST', `/rooms/${enc(roomId)}/join`, { token: bob.token, body: {} });
    const again = (await c.sync(bob, { since: joined.next_batch })).rooms.join[roomId]!;
    expect([...again.state.events, ...again.timeline.events].some((e) => e.type === 'm.room.create')).toBe(true);
  });
  it('wakes a long-polling sync when a message arrives', async () => {
    const roomId = await c.createRoom(alice, { preset: 'public_chat' });
    await c.ok('POST', `/join/${enc(roomId)}`, { token: bob.token, body: {} });
    const base = await c.sync(bob);
    const waiting = c.sync(bob, { since: base.next_batch, timeout: '30000' });
    await new Promise((r) => setTimeout(r, 50));
    await c.send(alice, roomId, 'wake up');
    const s = await waiting;
    expect(bodies(s.rooms.join[roomId]!.timeline.events)).toEqual(['wake up']);
  });

  it('returns an empty response after the timeout when nothing happens', async () => {
    const base = await c.sync(bob);
    const s = await c.sync(bob, { since: base.next_batch, timeout: '100' });
    expect(Object.keys(s.rooms.join)).toEqual([]);
    expect(s.next_batch).toBe(base.next_batch);
  });

  it('carries typing, receipts and unread counts, and wakes syncs for them', async () => {
    const roomId = await c.createRoom(alice, { preset: 'public_chat' });
    await c.ok('POST', `/join/${enc(roomId)}`, { token: bob.token, body: {} });
    const base = await c.sync(bob);
    const waiting = c.sync(bob, { since: base.next_batch, timeout: '30000' });
    await new Promise((r) => setTimeout(r, 50));
    await c.ok('PUT', `/rooms/${enc(roomId)}/typing/${enc(alice.userId)}`, { token: alice.token, body: { typing: true, timeout: 10000 } });
    const typing = (await waiting).rooms.join[roomId]!.ephemeral.events.find((e) => e.type === 'm.typing');
    expect(typing?.content).toEqual({ user_ids: [alice.userId] });

    const e1 = await c.send(alice, roomId, 'one');
    await c.send(alice, roomId, `two for ${bob.userId}`);
    const s1 = await c.sync(bob, { since: base.next_batch });
    expect(s1.rooms.join[roomId]!.unread_notifications).toEqual({ notification_count: 2, highlight_count: 1 });
    await c.ok('POST', `/rooms/${enc(roomId)}/receipt/m.read/${enc(e1)}`, { token: bob.token, body: {} });
    const s2 = await c.sync(bob, { since: s1.next_batch });
    const receipt = s2.rooms.join[roomId]!.ephemeral.events.find((e) => e.type === 'm.receipt');
    expect(receipt?.content).toMatchObject({ [e1]: { 'm.read': { [bob.userId]: {} } } });
    expect(s2.rooms.join[roomId]!.unread_notifications.notification_count).toBe(1);
    // Private receipts reach only their owner.
    await c.ok('POST', `/rooms/${enc(roomId)}/receipt/m.read.private/${enc(e1)}`, { token: alice.token, body: {} });
    const forBob = await c.sync(bob, { since: s2.next_batch });
    const forAlice = await c.sync(alice, { since: s2.next_batch });
    const hasPrivate = (ev: Array<{ type: string; content: Record<string, unknown> }> | undefined): boolean =>
      JSON.stringify(ev ?? []).includes('m.read.private');
    expect(hasPrivate(forBob.rooms.join[roomId]?.ephemeral.events)).toBe(false);
    expect(hasPrivate(forAlice.rooms.join[roomId]?.ephemeral.events)).toBe(true);

    await c.ok('PUT', `/rooms/${enc(roomId)}/typing/${enc(alice.userId)}`, { token: alice.token, body: { typing: false } });
    const stopped = await c.sync(bob, { since: s2.next_batch });
    expect(stopped.rooms.join[roomId]!.ephemeral.events.find((e) => e.type === 'm.typing')?.content).toEqual({ user_ids: [] });
  });

  it('delivers global and room account data, and read markers', async () => {
    const roomId = await c.createRoom(alice, {});
    const base = await c.sync(alice);
    await c.ok('PUT', `/user/${enc(alice.userId)}/account_data/org.example.settings`, { token: alice.token, body: { a: 1 } });
    await c.ok('PUT', `/user/${enc(alice.userId)}/rooms/${enc(roomId)}/account_data/org.example.room`, { token: alice.token, body: { b: 2 } });
    const eventId = await c.send(alice, roomId, 'marker');
    await c.ok('POST', `/rooms/${enc(roomId)}/read_markers`, { token: alice.token, body: { 'm.fully_read': eventId } });
    const s = await c.sync(alice, { since: base.next_batch });
    expect(s.account_data.events).toEqual([{ type: 'org.example.settings', content: { a: 1 } }]);
    const roomData = s.rooms.join[roomId]!.account_data.events;
    expect(roomData).toContainEqual({ type: 'org.example.room', content: { b: 2 } });
    expect(roomData).toContainEqual({ type: 'm.fully_read', content: { event_id: eventId } });
    expect(await c.ok('GET', `/user/${enc(alice.userId)}/account_data/org.example.settings`, { token: alice.token })).toEqual({ a: 1 });
    const missing = await c.call('GET', `/user/${enc(alice.userId)}/account_data/org.example.none`, { token: alice.token });
    expect(missing.status).toBe(404);
    const others = await c.call('PUT', `/user/${enc(bob.userId)}/account_data/x`, { token: alice.token, body: {} });
    expect(others.status).toBe(403);
  });

  it('returns full state when asked, and rejects malformed tokens', async () => {
    const roomId = await c.createRoom(alice, { name: 'Full' });
    const base = await c.sync(alice);
    const full = await c.sync(alice, { since: base.next_batch, full_state: 'true' });
    expect(full.rooms.join[roomId]!.state.events.some((e) => e.type === 'm.room.name')).toBe(true);
    const bad = await c.call('GET', '/sync?since=garbage', { token: alice.token });
    expect(bad.status).toBe(400);
    expect(bad.body['errcode']).toBe('M_INVALID_PARAM');
  });

  it('delivers send-to-device messages once, to the addressed devices', async () => {
    const base = await c.sync(bob);
    const waiting = c.sync(bob, { since: base.next_batch, timeout: '30000' });
    await new Promise((r) => setTimeout(r, 50));
    const path = '/sendToDevice/org.example.ping/td1';
    const body = { messages: { [bob.userId]: { '*': { hello: 'bob' } } } };
    await c.ok('PUT', path, { token: alice.token, body });
    await c.ok('PUT', path, { token: alice.token, body }); // same txnId: not sent again
    const s1 = await waiting;
    expect(s1['to_device']).toEqual({ events: [{ sender: alice.userId, type: 'org.example.ping', content: { hello: 'bob' } }] });
    const s2 = await c.sync(bob, { since: s1.next_batch });
    expect(s2['to_device']).toEqual({ events: [] });
    await c.ok('PUT', '/sendToDevice/org.example.ping/td2', { token: alice.token, body: { messages: { [bob.userId]: { OTHERDEVICE: { x: 1 } } } } });
    const s3 = await c.sync(bob, { since: s2.next_batch });
    expect(s3['to_device']).toEqual({ events: [] });
  });
});
