// Backfilled events judged against the state before them (BackfillState): walking back from an event
// with a known state along single prev_events, a message whose sender had left is rejected; an event
// that needs a key whose older value is not in the batch, or that sits past a fork, is left alone.
import { describe, expect, it } from '@jest/globals';
import type { AuthContext } from '../../../homeserver/federation/eventauth/EventAuthRules.js';
import { stateKeyOf, type RoomEvent } from '../../../homeserver/federation/eventauth/RoomState.js';
import { rejectedByStateBefore } from '../../../homeserver/federation/receive/BackfillState.js';
import type { StateIds } from '../../../homeserver/federation/stateres/StateResolutionV2.js';

const A = '@alice:a.test';
const M = '@mallory:b.test';
const ctx: AuthContext = { roomVersion: '10', signedBy: () => true };
let n = 0;
const ev = (type: string, sender: string, content: Record<string, unknown>, prev: RoomEvent[], stateKey?: string): RoomEvent => ({
  event_id: `$e${++n}`, room_id: '!r:a.test', type, sender, content, auth_events: [], prev_events: prev.map((p) => p.event_id), depth: n,
  origin_server_ts: n, hashes: { sha256: '' }, signatures: {}, ...(stateKey !== undefined && { state_key: stateKey }),
});

const create = ev('m.room.create', A, { creator: A, room_version: '10' }, [], '');
const aliceJoin = ev('m.room.member', A, { membership: 'join' }, [create], A);
const power = ev('m.room.power_levels', A, { users: { [A]: 100 } }, [aliceJoin], '');
const rules = ev('m.room.join_rules', A, { join_rule: 'public' }, [power], '');
const known = new Map([create, aliceJoin, power, rules].map((e) => [e.event_id, e]));
const base: Array<[string, string]> = [create, aliceJoin, power, rules].map((e) => [stateKeyOf(e.type, e.state_key!), e.event_id]);
const stateWith = (...more: RoomEvent[]): StateIds => new Map([...base, ...more.map((e): [string, string] => [stateKeyOf(e.type, e.state_key!), e.event_id])]);
const judge = (batch: RoomEvent[], child: RoomEvent, stateBefore: StateIds) =>
  rejectedByStateBefore(ctx, batch, { children: [{ event: child, stateBefore }], get: (id) => known.get(id) });

describe('rejectedByStateBefore', () => {
  it('rejects a message sent after its sender left, and keeps the ones sent while joined', () => {
    const join = ev('m.room.member', M, { membership: 'join' }, [rules], M);
    const before = ev('m.room.message', M, { body: 'joined' }, [join]);
    const leave = ev('m.room.member', M, { membership: 'leave' }, [before], M);
    const after = ev('m.room.message', M, { body: 'left' }, [leave]);
    const child = ev('m.room.message', A, { body: 'here' }, [after]);
    const rejected = judge([join, before, leave, after], child, stateWith(leave));
    expect([...rejected.keys()]).toEqual([after.event_id]);
  });

  it('leaves alone an event whose sender’s membership before it is not in the batch', () => {
    const leave = ev('m.room.member', M, { membership: 'leave' }, [rules], M);
    const late = ev('m.room.message', M, { body: 'late' }, [leave]);
    const child = ev('m.room.message', A, { body: 'here' }, [late]);
    // The leave's own check needs mallory's membership before it, which the batch does not hold.
    expect(judge([leave, late], child, stateWith(leave)).has(leave.event_id)).toBe(false);
    expect(judge([leave, late], child, stateWith(leave)).has(late.event_id)).toBe(true);
  });

  it('leaves alone what lies past a fork (an event with two prev_events)', () => {
    const leave = ev('m.room.member', M, { membership: 'leave' }, [rules], M);
    const x = ev('m.room.message', M, { body: 'x' }, [leave]);
    const y = ev('m.room.message', A, { body: 'y' }, [leave]);
    const merge = ev('m.room.message', A, { body: 'merge' }, [x, y]);
    expect(judge([leave, x, y], merge, stateWith(leave)).size).toBe(0);
  });
});
