// The v10/v11 authorisation rules over events: each rule's allow and reject cases, numbered as the spec.
import { describe, expect, it } from '@jest/globals';
import { authorizeAgainstState, checkAuthEvents, type AuthContext } from '../../../homeserver/federation/eventauth/EventAuthRules.js';
import { stateKeyOf, type RoomEvent, type StateEvents } from '../../../homeserver/federation/eventauth/RoomState.js';
import type { RoomVersion } from '../../../homeserver/rooms/RoomVersions.js';
import { Ed25519SigningKey } from '../../../homeserver/federation/signing/Ed25519.js';
import { signJson } from '../../../homeserver/federation/signing/SignedJson.js';
import { encodeUnpaddedBase64 } from '../../../homeserver/federation/signing/UnpaddedBase64.js';

const A = '@alice:a.test';
const B = '@bob:b.test';
const C = '@carol:c.test';
let n = 0;
const ev = (type: string, sender: string, content: Record<string, unknown>, state_key?: string, extra: Partial<RoomEvent> = {}): RoomEvent => ({
  event_id: `$e${++n}`, room_id: '!r:a.test', type, sender, content, auth_events: [], prev_events: ['$prev'], depth: n,
  origin_server_ts: n, hashes: { sha256: '' }, signatures: {}, ...(state_key !== undefined && { state_key }), ...extra,
});
const ctxFor = (roomVersion: RoomVersion, signed = true): AuthContext => ({ roomVersion, signedBy: () => signed });
const v10 = ctxFor('10');

/** A room: Alice created it (v10 creator) and joined; power levels; the given join rule; more members. */
function room(joinRule: string, members: Record<string, string> = {}, plContent: Record<string, unknown> = { users: { [A]: 100 } }): StateEvents {
  const state: StateEvents = new Map();
  const put = (e: RoomEvent): void => void state.set(stateKeyOf(e.type, e.state_key!), e);
  put(ev('m.room.create', A, { creator: A, room_version: '10' }, '', { prev_events: [] }));
  put(ev('m.room.member', A, { membership: 'join' }, A));
  put(ev('m.room.power_levels', A, plContent, ''));
  put(ev('m.room.join_rules', A, { join_rule: joinRule }, ''));
  for (const [user, membership] of Object.entries(members)) put(ev('m.room.member', user, { membership }, user));
  return state;
}
const verdict = (e: RoomEvent, state: StateEvents, ctx = v10): string => {
  const r = authorizeAgainstState(ctx, e, state);
  return r.allowed ? 'allow' : `reject: ${r.reason}`;
};
const member = (sender: string, target: string, membership: string, extra: Record<string, unknown> = {}): RoomEvent =>
  ev('m.room.member', sender, { membership, ...extra }, target);

describe('rule 1: m.room.create', () => {
  it('needs no prev_events, the room server as sender, a known version, and in v10 a creator', () => {
    const ok = ev('m.room.create', A, { creator: A, room_version: '10' }, '', { prev_events: [] });
    expect(verdict(ok, new Map())).toBe('allow');
    expect(verdict({ ...ok, prev_events: ['$x'] }, new Map())).toMatch(/no prev_events/);
    expect(verdict({ ...ok, sender: B }, new Map())).toMatch(/not of the room ID's server/);
    expect(verdict({ ...ok, content: { creator: A, room_version: '99' } }, new Map())).toMatch(/not recognised/);
    expect(verdict({ ...ok, content: { room_version: '10' } }, new Map())).toMatch(/needs a creator/);
    expect(verdict({ ...ok, content: { room_version: '11' } }, new Map(), ctxFor('11'))).toBe('allow');
  });
});

describe('rule 2: auth_events', () => {
  const state = room('public');
  const create = state.get(stateKeyOf('m.room.create', ''))!;
  const pl = state.get(stateKeyOf('m.room.power_levels', ''))!;
  const jr = state.get(stateKeyOf('m.room.join_rules', ''))!;
  const joinB = member(B, B, 'join');
  it('allows the selection, and refuses duplicates, strangers, rejected or foreign ones, and a missing create', () => {
    expect(checkAuthEvents(v10, joinB, [create, pl, jr]).allowed).toBe(true);
    expect(checkAuthEvents(v10, joinB, [create, pl, jr, { ...jr, event_id: '$other' }])).toMatchObject({ reason: expect.stringMatching(/Two auth events/) });
    const topic = ev('m.room.topic', A, { topic: 'x' }, '');
    expect(checkAuthEvents(v10, joinB, [create, topic])).toMatchObject({ reason: expect.stringMatching(/not one this event may cite/) });
    expect(checkAuthEvents(v10, joinB, [create, jr], (id) => id === jr.event_id)).toMatchObject({ reason: expect.stringMatching(/was rejected/) });
    expect(checkAuthEvents(v10, joinB, [{ ...create, room_id: '!other:a.test' }])).toMatchObject({ reason: expect.stringMatching(/another room/) });
    expect(checkAuthEvents(v10, joinB, [pl, jr])).toMatchObject({ reason: expect.stringMatching(/No m.room.create/) });
  });
});

describe('rule 3: m.federate', () => {
  it('keeps other servers out of a room that does not federate', () => {
    const state = room('public');
    const create = state.get(stateKeyOf('m.room.create', ''))!;
    state.set(stateKeyOf('m.room.create', ''), { ...create, content: { ...create.content, 'm.federate': false } });
    expect(verdict(member(B, B, 'join'), state)).toMatch(/does not federate/);
    expect(verdict(member('@dan:a.test', '@dan:a.test', 'join'), state)).toBe('allow');
  });
});

describe('rule 4: membership', () => {
  it("4.3.1: the creator's first join, by content.creator in v10 and by the create's sender in v11", () => {
    const create = ev('m.room.create', A, { creator: B, room_version: '10' }, '', { prev_events: [] });
    const state: StateEvents = new Map([[stateKeyOf('m.room.create', ''), create]]);
    const first = (who: string): RoomEvent => ({ ...member(who, who, 'join'), prev_events: [create.event_id] });
    expect(verdict(first(B), state)).toBe('allow');
    expect(verdict(first(A), state)).toMatch(/not public/);
    expect(verdict(first(A), state, ctxFor('11'))).toBe('allow');
  });

  it('4.3: joins by join rule, bans and restricted rooms', () => {
    expect(verdict(member(B, B, 'join'), room('public'))).toBe('allow');
    expect(verdict(member(A, B, 'join'), room('public'))).toMatch(/Only the user themself/);
    expect(verdict(member(B, B, 'join'), room('public', { [B]: 'ban' }))).toMatch(/banned/);
    expect(verdict(member(B, B, 'join'), room('invite'))).toMatch(/not invited/);
    expect(verdict(member(B, B, 'join'), room('invite', { [B]: 'invite' }))).toBe('allow');
    expect(verdict(member(B, B, 'join'), room('knock', { [B]: 'invite' }))).toBe('allow');
    const restricted = room('restricted', { [C]: 'join' });
    expect(verdict(member(B, B, 'join', { join_authorised_via_users_server: A }), restricted)).toBe('allow');
    expect(verdict(member(B, B, 'join'), restricted)).toMatch(/authorised by a joined member/);
    expect(verdict(member(B, B, 'join', { join_authorised_via_users_server: '@x:a.test' }), restricted)).toMatch(/authorised by a joined member/);
    const lowInvite = room('knock_restricted', { [C]: 'join' }, { users: { [A]: 100 }, invite: 50 });
    expect(verdict(member(B, B, 'join', { join_authorised_via_users_server: C }), lowInvite)).toMatch(/who may invite/);
    expect(verdict(member(B, B, 'join', { join_authorised_via_users_server: A }), restricted, ctxFor('10', false))).toMatch(/not backed by a signature/);
  });

  it('4.4: invites need a joined sender with the invite level, and a target neither joined nor banned', () => {
    expect(verdict(member(A, B, 'invite'), room('invite'))).toBe('allow');
    expect(verdict(member(C, B, 'invite'), room('invite'))).toMatch(/not in the room/);
    expect(verdict(member(A, B, 'invite'), room('invite', { [B]: 'ban' }))).toMatch(/banned/);
    expect(verdict(member(A, B, 'invite'), room('invite', { [B]: 'join' }))).toMatch(/already in the room/);
    expect(verdict(member(C, B, 'invite'), room('invite', { [C]: 'join' }, { users: { [A]: 100 }, invite: 10 }))).toMatch(/Inviting needs power level 10/);
  });

  it('4.4.1: a third-party invite is redeemed with a signature by one of the invite\'s keys', () => {
    const idServer = { keyId: 'ed25519:0', key: Ed25519SigningKey.generate() };
    const state = room('invite');
    const tpi = ev('m.room.third_party_invite', A, { public_key: encodeUnpaddedBase64(idServer.key.publicKey), display_name: 'b…' }, 'tok');
    state.set(stateKeyOf(tpi.type, 'tok'), tpi);
    const signed = signJson({ mxid: B, token: 'tok', sender: A }, 'id.test', idServer);
    expect(verdict(member(A, B, 'invite', { third_party_invite: { display_name: 'b', signed } }), state)).toBe('allow');
    expect(verdict(member(A, B, 'invite', { third_party_invite: { signed: { ...signed, token: 'tok', mxid: C } } }), state)).toMatch(/not the invited user/);
    expect(verdict(member(A, B, 'invite', { third_party_invite: { signed: { ...signed, sender: C } } }), state)).toMatch(/No signature .* matches/);
    expect(verdict(member(C, B, 'invite', { third_party_invite: { signed } }), state)).toMatch(/Only the sender of the third-party invite/);
    expect(verdict(member(A, B, 'invite', { third_party_invite: { signed: { ...signed, token: 'nope' } } }), state)).toMatch(/No m.room.third_party_invite/);
  });

  it('4.5 and 4.6: leaving, kicking, unbanning and banning by power level', () => {
    const s = room('public', { [B]: 'join', [C]: 'ban' });
    expect(verdict(member(B, B, 'leave'), s)).toBe('allow');
    expect(verdict(member(C, C, 'leave'), s)).toMatch(/cannot leave from ban/);
    expect(verdict(member(A, B, 'leave'), s)).toBe('allow');
    expect(verdict(member(B, A, 'leave'), s)).toMatch(/Kicking needs power level 50/);
    expect(verdict(member(A, C, 'leave'), s)).toBe('allow');
    expect(verdict(member(A, B, 'ban'), s)).toBe('allow');
    expect(verdict(member(B, A, 'ban'), s)).toMatch(/Banning needs power level 50/);
  });

  it('4.7: knocking only where the join rule allows it, and not from ban, invite or join', () => {
    expect(verdict(member(B, B, 'knock'), room('knock'))).toBe('allow');
    expect(verdict(member(B, B, 'knock'), room('knock_restricted'))).toBe('allow');
    expect(verdict(member(B, B, 'knock'), room('invite'))).toMatch(/does not allow knocking/);
    expect(verdict(member(B, B, 'knock'), room('knock', { [B]: 'ban' }))).toMatch(/cannot knock from ban/);
    expect(verdict(member(B, B, 'bogus'), room('public'))).toMatch(/Unknown membership/);
  });
});

describe('rules 5 to 9: everything else', () => {
  const s = room('public', { [B]: 'join' }, { users: { [A]: 100, [B]: 50 }, events: { 'm.room.name': 60 } });
  it('5-8: membership, required power levels and user-keyed state', () => {
    expect(verdict(ev('m.room.message', C, {}), s)).toMatch(/not in the room/);
    expect(verdict(ev('m.room.message', B, {}), s)).toBe('allow');
    expect(verdict(ev('m.room.name', B, {}, ''), s)).toMatch(/m.room.name needs power level 60; .* has 50/);
    expect(verdict(ev('m.room.topic', B, {}, ''), s)).toBe('allow');
    expect(verdict(ev('org.example.state', B, {}, A), s)).toMatch(/must be the sender/);
    expect(verdict(ev('m.room.third_party_invite', B, {}, 't'), s)).toBe('allow');
  });

  it('9: power levels: integers only, and nobody raises anything above their own level', () => {
    const change = (sender: string, content: Record<string, unknown>): string => verdict(ev('m.room.power_levels', sender, content, ''), s);
    expect(change(A, { users: { [A]: 100, [B]: 75 } })).toBe('allow');
    expect(change(A, { users: { [A]: 100 }, ban: '50' })).toMatch(/ban must be an integer/);
    expect(change(A, { users: { notauser: 1 } })).toMatch(/users must map user IDs/);
    expect(change(A, { users: { [A]: 100 }, events: { x: 1.5 } })).toMatch(/events must map to integers/);
    expect(change(B, { users: { [A]: 100, [B]: 50 }, ban: 60, events: { 'm.room.name': 60 } })).toMatch(/Cannot set ban to 60/);
    expect(change(B, { users: { [A]: 100, [B]: 50 } })).toMatch(/Cannot change events.m.room.name/);
    expect(change(B, { users: { [A]: 0, [B]: 50 }, events: { 'm.room.name': 60 } })).toMatch(/Cannot change the level of @alice/);
    expect(change(B, { users: { [A]: 100, [B]: 40 }, events: { 'm.room.name': 60 } })).toBe('allow');
  });
});
