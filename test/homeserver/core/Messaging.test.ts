// Sending (idempotent per device and txnId), state, redaction, /messages in both directions, members.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreClient, enc, type CoreUser, type Event } from './coreHarness.js';

describe('room messaging', () => {
  let c: CoreClient;
  let alice: CoreUser;
  let bob: CoreUser;
  let roomId: string;

  beforeAll(async () => {
    c = await CoreClient.start();
    alice = await c.register('alice');
    bob = await c.register('bob');
    roomId = await c.createRoom(alice, { preset: 'public_chat', name: 'Lobby', topic: 'Talk' });
    await c.ok('POST', `/join/${enc(roomId)}`, { token: bob.token, body: {} });
  });
  afterAll(() => c.stop());

  it('answers a repeated txnId with the same event and stores the event once', async () => {
    const path = `/rooms/${enc(roomId)}/send/m.room.message/same-txn`;
    const first = await c.ok('PUT', path, { token: alice.token, body: { msgtype: 'm.text', body: 'once' } });
    const again = await c.ok('PUT', path, { token: alice.token, body: { msgtype: 'm.text', body: 'once' } });
    expect(again['event_id']).toBe(first['event_id']);
    // Another device of the same user is another transaction scope.
    const login = await c.ok('POST', '/login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'secret-password' },
    });
    const other = await c.ok('PUT', path, { token: login['access_token'] as string, body: { msgtype: 'm.text', body: 'once' } });
    expect(other['event_id']).not.toBe(first['event_id']);
    const msgs = await c.ok('GET', `/rooms/${enc(roomId)}/messages?dir=b&limit=5`, { token: alice.token });
    const chunk = msgs['chunk'] as Event[];
    expect(chunk.filter((e) => e.event_id === first['event_id'])).toHaveLength(1);
    // The sending device sees its transaction ID; others do not.
    const own = await c.ok('GET', `/rooms/${enc(roomId)}/event/${enc(first['event_id'] as string)}`, { token: alice.token });
    expect((own['unsigned'] as Record<string, unknown>)['transaction_id']).toBe('same-txn');
    const seenByBob = await c.ok('GET', `/rooms/${enc(roomId)}/event/${enc(first['event_id'] as string)}`, { token: bob.token });
    expect((seenByBob['unsigned'] as Record<string, unknown>)['transaction_id']).toBeUndefined();
  });

  it('accepts the legacy POST send without a transaction ID', async () => {
    const r = await c.ok('POST', `/rooms/${enc(roomId)}/send/m.room.message`, { token: bob.token, body: { msgtype: 'm.text', body: 'legacy' } });
    expect(String(r['event_id'])).toMatch(/^\$/);
  });

  it('sets and reads state, including the empty state key, and reports prev_content', async () => {
    await c.ok('PUT', `/rooms/${enc(roomId)}/state/m.room.topic/`, { token: alice.token, body: { topic: 'New topic' } });
    expect(await c.ok('GET', `/rooms/${enc(roomId)}/state/m.room.topic`, { token: bob.token })).toEqual({ topic: 'New topic' });
    const asEvent = await c.ok('GET', `/rooms/${enc(roomId)}/state/m.room.topic/?format=event`, { token: bob.token });
    expect((asEvent['unsigned'] as Record<string, unknown>)['prev_content']).toMatchObject({ topic: 'Talk' });
    await c.ok('PUT', `/rooms/${enc(roomId)}/state/org.example.thing/${enc(alice.userId)}`, { token: alice.token, body: { v: 1 } });
    const all = (await c.ok('GET', `/rooms/${enc(roomId)}/state`, { token: bob.token })) as unknown as Event[];
    expect(all.find((e) => e.type === 'org.example.thing')?.state_key).toBe(alice.userId);
    const lowPower = await c.call('PUT', `/rooms/${enc(roomId)}/state/org.example.thing/${enc(bob.userId)}`, { token: bob.token, body: { v: 1 } });
    expect(lowPower.status).toBe(403);
    const missing = await c.call('GET', `/rooms/${enc(roomId)}/state/m.room.avatar`, { token: bob.token });
    expect(missing.status).toBe(404);
    expect(missing.body['errcode']).toBe('M_NOT_FOUND');
    // Re-sending identical state is deduplicated.
    const a = await c.ok('PUT', `/rooms/${enc(roomId)}/state/m.room.topic`, { token: alice.token, body: { topic: 'New topic' } });
    expect(a['event_id']).toBe(asEvent['event_id']);
  });

  it('redacts: content stripped per the algorithm, redacted_because attached, others need power', async () => {
    const eventId = await c.send(bob, roomId, 'secret');
    const denied = await c.call('PUT', `/rooms/${enc(roomId)}/redact/${enc(await c.send(alice, roomId, 'mine'))}/r1`, {
      token: bob.token,
      body: {},
    });
    expect(denied.status).toBe(403);
    const red = await c.ok('PUT', `/rooms/${enc(roomId)}/redact/${enc(eventId)}/r2`, { token: bob.token, body: { reason: 'oops' } });
    const again = await c.ok('PUT', `/rooms/${enc(roomId)}/redact/${enc(eventId)}/r2`, { token: bob.token, body: { reason: 'oops' } });
    expect(again['event_id']).toBe(red['event_id']);
    const ev = await c.ok('GET', `/rooms/${enc(roomId)}/event/${enc(eventId)}`, { token: alice.token });
    expect(ev['content']).toEqual({});
    const because = (ev['unsigned'] as Record<string, Record<string, unknown>>)['redacted_because']!;
    expect(because['event_id']).toBe(red['event_id']);
    expect(because['redacts']).toBe(eventId);
    expect(because['content']).toMatchObject({ reason: 'oops' });
    // Power levels survive redaction with their keys (the redaction algorithm keeps them).
    const pl = await c.ok('GET', `/rooms/${enc(roomId)}/state/m.room.power_levels?format=event`, { token: alice.token });
    await c.ok('PUT', `/rooms/${enc(roomId)}/redact/${enc(pl['event_id'] as string)}/r3`, { token: alice.token, body: {} });
    const after = await c.ok('GET', `/rooms/${enc(roomId)}/state/m.room.power_levels`, { token: alice.token });
    expect(after['users']).toEqual((pl['content'] as Record<string, unknown>)['users']);
    expect(after['notifications']).toBeUndefined();
  });

  it('paginates /messages backwards and forwards with from, to, limit and a types filter', async () => {
    const fresh = await c.createRoom(alice, {});
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await c.send(alice, fresh, `m${i}`));
    const back1 = await c.ok('GET', `/rooms/${enc(fresh)}/messages?dir=b&limit=3`, { token: alice.token });
    expect((back1['chunk'] as Event[]).map((e) => e.content['body'])).toEqual(['m6', 'm5', 'm4']);
    const back2 = await c.ok('GET', `/rooms/${enc(fresh)}/messages?dir=b&limit=3&from=${back1['end']}`, { token: alice.token });
    expect((back2['chunk'] as Event[]).map((e) => e.content['body'])).toEqual(['m3', 'm2', 'm1']);
    const fwd = await c.ok('GET', `/rooms/${enc(fresh)}/messages?dir=f&limit=2&from=${back2['end']}`, { token: alice.token });
    expect((fwd['chunk'] as Event[]).map((e) => e.content['body'])).toEqual(['m1', 'm2']);
    const bounded = await c.ok('GET', `/rooms/${enc(fresh)}/messages?dir=b&limit=10&from=${back1['end']}&to=${back2['end']}`, {
      token: alice.token,
    });
    expect((bounded['chunk'] as Event[]).map((e) => e.content['body'])).toEqual(['m3', 'm2', 'm1']);
    const filter = enc(JSON.stringify({ types: ['m.room.message'] }));
    const all = await c.ok('GET', `/rooms/${enc(fresh)}/messages?dir=b&limit=50&filter=${filter}`, { token: alice.token });
    expect((all['chunk'] as Event[]).map((e) => e.content['body'])).toEqual(['m6', 'm5', 'm4', 'm3', 'm2', 'm1', 'm0']);
    expect(all['end']).toBeUndefined(); // nothing further
    const start = await c.ok('GET', `/rooms/${enc(fresh)}/messages?dir=f&limit=1`, { token: alice.token });
    expect((start['chunk'] as Event[])[0]!.type).toBe('m.room.create');
    const bad = await c.call('GET', `/rooms/${enc(fresh)}/messages?dir=x`, { token: alice.token });
    expect(bad.status).toBe(400);
    expect(bad.body['errcode']).toBe('M_INVALID_PARAM');
    const outsider = await c.call('GET', `/rooms/${enc(fresh)}/messages?dir=b`, { token: bob.token });
    expect(outsider.status).toBe(403);
  });

  it('lists members with membership filters and joined members with profiles', async () => {
    const members = await c.ok('GET', `/rooms/${enc(roomId)}/members?membership=join`, { token: bob.token });
    expect((members['chunk'] as Event[]).map((e) => e.state_key).sort()).toEqual([alice.userId, bob.userId].sort());
    const notJoin = await c.ok('GET', `/rooms/${enc(roomId)}/members?not_membership=join`, { token: bob.token });
    expect(notJoin['chunk']).toEqual([]);
    const joined = await c.ok('GET', `/rooms/${enc(roomId)}/joined_members`, { token: bob.token });
    expect(joined['joined']).toMatchObject({ [alice.userId]: { display_name: 'alice' } });
    const rooms = await c.ok('GET', '/joined_rooms', { token: bob.token });
    expect(rooms['joined_rooms']).toEqual([roomId]);
  });

  it('updates member events in joined rooms when the displayname changes', async () => {
    await c.ok('PUT', `/profile/${enc(bob.userId)}/displayname`, { token: bob.token, body: { displayname: 'Bobby' } });
    expect(await c.ok('GET', `/profile/${enc(bob.userId)}`)).toEqual({ displayname: 'Bobby' });
    const m = await c.ok('GET', `/rooms/${enc(roomId)}/state/m.room.member/${enc(bob.userId)}`, { token: alice.token });
    expect(m).toMatchObject({ membership: 'join', displayname: 'Bobby' });
    const other = await c.call('PUT', `/profile/${enc(alice.userId)}/displayname`, { token: bob.token, body: { displayname: 'x' } });
    expect(other.status).toBe(403);
  });

  it('leaves, forgets, and refuses to forget a room one is still in', async () => {
    const r = await c.createRoom(alice, { preset: 'public_chat' });
    await c.ok('POST', `/rooms/${enc(r)}/join`, { token: bob.token, body: {} });
    const notYet = await c.call('POST', `/rooms/${enc(r)}/forget`, { token: bob.token, body: {} });
    expect(notYet.status).toBe(400);
    await c.ok('POST', `/rooms/${enc(r)}/leave`, { token: bob.token, body: {} });
    // A former member still reads history up to their leave.
    const hist = await c.ok('GET', `/rooms/${enc(r)}/messages?dir=b&limit=1`, { token: bob.token });
    expect((hist['chunk'] as Event[])[0]).toMatchObject({ type: 'm.room.member', state_key: bob.userId, content: { membership: 'leave' } });
    await c.ok('POST', `/rooms/${enc(r)}/forget`, { token: bob.token, body: {} });
    const gone = await c.call('GET', `/rooms/${enc(r)}/messages?dir=b`, { token: bob.token });
    expect(gone.status).toBe(403);
  });
});
