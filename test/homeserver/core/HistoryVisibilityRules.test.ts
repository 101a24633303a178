// The history visibility rules as stream ranges (homeserver/rooms/HistoryVisibility.ts), case by case:
// the stretch before each change is judged by the state after the previous one; the changes themselves
// follow the spec's special cases.
import { describe, expect, it } from '@jest/globals';
import { readableRanges, visibilityOf, type StateChange } from '../../../homeserver/rooms/HistoryVisibility.js';

const hv = (pos: number, value: string): StateChange => ({ pos, value });
const member = hv;
const ranges = (v: StateChange[], m: StateChange[]): Array<[number, number]> =>
  readableRanges(v, m)
    .within(0, Infinity)
    .map((r) => [r.after, r.upTo]);

describe('readableRanges', () => {
  it.each([
    // [what, visibility changes, the reader's memberships, visible (after, upTo] ranges]
    ['no membership, default shared: nothing', [], [], []],
    ['shared: everything before a join, then while joined', [hv(5, 'shared')], [member(10, 'join'), member(20, 'leave')], [[0, 20]]],
    ['shared: a rejoin opens the time away as well', [hv(5, 'shared')], [member(10, 'join'), member(20, 'leave'), member(30, 'join')], [[0, Infinity]]],
    // Before the first m.room.history_visibility the default (shared) applies.
    ['joined: the own join, then until the leave', [hv(5, 'joined')], [member(10, 'join'), member(20, 'leave')], [[0, 5], [9, 20]]],
    ['joined: only own membership events for someone invited', [hv(5, 'joined')], [member(10, 'invite')], [[9, 10]]],
    ['invited: from the invite on', [hv(2, 'invited')], [member(5, 'invite'), member(9, 'join'), member(12, 'leave')], [[0, 2], [4, 12]]],
    ['invited: a rejected invite ends it', [hv(2, 'invited')], [member(5, 'invite'), member(8, 'leave')], [[4, 8]]],
    ['world_readable: from the switch, for anyone', [hv(3, 'shared'), hv(8, 'world_readable')], [], [[7, Infinity]]],
    // The change back is visible too: the setting before it allowed it.
    ['world_readable then joined: that stretch and both ends', [hv(3, 'world_readable'), hv(8, 'joined')], [], [[2, 8]]],
    ['a former member sees world_readable events after leaving', [hv(3, 'joined'), hv(15, 'world_readable')], [member(10, 'join'), member(12, 'leave')], [[0, 3], [9, 12], [14, Infinity]]],
  ] as Array<[string, StateChange[], StateChange[], Array<[number, number]>]>)('%s', (_what, v, m, expected) => {
    expect(ranges(v, m)).toEqual(expected);
  });

  it('contains() agrees with the ranges', () => {
    const r = readableRanges([hv(5, 'joined')], [member(10, 'join'), member(20, 'leave')]);
    const visible = Array.from({ length: 25 }, (_, i) => i + 1).filter((p) => r.contains(p));
    expect(visible).toEqual([1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  });

  it('reads a missing or unknown setting as shared', () => {
    expect(visibilityOf(undefined)).toBe('shared');
    expect(visibilityOf({ history_visibility: 'everyone' })).toBe('shared');
    expect(visibilityOf({ history_visibility: 'joined' })).toBe('joined');
  });
});
