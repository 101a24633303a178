// State resolution v2 on the well-known conflict cases (ban vs. power change, join rule evasion, off-topic
// power levels, topic resets, mainline ordering; the scenarios Synapse's and other servers' suites use):
// a room DAG is built event by event, each multi-parent point resolved, and the state at END compared.
import { describe, expect, it } from '@jest/globals';
import { authStateKeys } from '../../../homeserver/federation/eventauth/AuthEventSelection.js';
import type { AuthContext } from '../../../homeserver/federation/eventauth/EventAuthRules.js';
import { stateKeyOf, type RoomEvent } from '../../../homeserver/federation/eventauth/RoomState.js';
import { isPowerEvent, resolveStateV2, type StateIds } from '../../../homeserver/federation/stateres/StateResolutionV2.js';

const ALICE = '@alice:example.com';
const BOB = '@bob:example.com';
const CHARLIE = '@charlie:example.com';
const EVELYN = '@evelyn:example.com';
const ZARA = '@zara:example.com';
const ctx: AuthContext = { roomVersion: '10', signedBy: () => true };

interface Node {
  id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: Record<string, unknown>;
}
const node = (id: string, sender: string, type: string, state_key: string | undefined, content: Record<string, unknown> = {}): Node => ({
  id, sender, type, content, ...(state_key !== undefined && { state_key }),
});
const join = { membership: 'join' };

const INITIAL: Node[] = [
  node('CREATE', ALICE, 'm.room.create', '', { creator: ALICE }),
  node('IMA', ALICE, 'm.room.member', ALICE, join),
  node('IPOWER', ALICE, 'm.room.power_levels', '', { users: { [ALICE]: 100 } }),
  node('IJR', ALICE, 'm.room.join_rules', '', { join_rule: 'public' }),
  node('IMB', BOB, 'm.room.member', BOB, join),
  node('IMC', CHARLIE, 'm.room.member', CHARLIE, join),
  node('IMZ', ZARA, 'm.room.member', ZARA, join),
  node('START', ZARA, 'm.room.message', undefined),
  node('END', ZARA, 'm.room.message', undefined),
];
const INITIAL_EDGES = ['START', 'IMZ', 'IMC', 'IMB', 'IJR', 'IPOWER', 'IMA', 'CREATE'];
const idOf = (n: string): string => `$${n}:example.com`;

/** Builds the DAG (edges are chains, newest first), resolving wherever an event has several parents. */
function build(extra: Node[], edges: string[][]): { events: Map<string, RoomEvent>; stateAfter: Map<string, StateIds> } {
  const nodes = new Map([...INITIAL, ...extra].map((n) => [n.id, n]));
  const prevs = new Map([...nodes.keys()].map((id) => [id, new Set<string>()]));
  for (const chain of [INITIAL_EDGES, ...edges]) for (let i = 0; i + 1 < chain.length; i++) prevs.get(chain[i]!)!.add(chain[i + 1]!);
  const events = new Map<string, RoomEvent>();
  const stateAfter = new Map<string, StateIds>();
  const done = new Set<string>();
  let ts = 0;
  while (done.size < nodes.size) {
    const next = [...nodes.keys()].filter((id) => !done.has(id) && [...prevs.get(id)!].every((p) => done.has(p))).sort()[0]!;
    const n = nodes.get(next)!;
    const parents = [...prevs.get(next)!];
    const before: StateIds =
      parents.length === 0 ? new Map() : parents.length === 1 ? new Map(stateAfter.get(parents[0]!)) : resolveStateV2(ctx, parents.map((p) => stateAfter.get(p)!), { get: (id) => events.get(id) });
    const event: RoomEvent = {
      event_id: idOf(next), room_id: '!test:example.com', sender: n.sender, type: n.type, content: n.content,
      ...(n.state_key !== undefined && { state_key: n.state_key }),
      auth_events: authStateKeys(n).filter((k) => before.has(k)).map((k) => before.get(k)!),
      prev_events: parents.map(idOf), depth: 0, origin_server_ts: ts++, hashes: { sha256: '' }, signatures: {},
    };
    events.set(event.event_id, event);
    const after = new Map(before);
    if (n.state_key !== undefined) after.set(stateKeyOf(n.type, n.state_key), event.event_id);
    stateAfter.set(next, after);
    done.add(next);
  }
  return { events, stateAfter };
}

/** The state at END, less what is unchanged since START (unless expected): as the expected lists are written. */
function check(extra: Node[], edges: string[][], expected: string[]): void {
  const { events, stateAfter } = build(extra, edges);
  const want = new Map(expected.map((n) => { const e = events.get(idOf(n))!; return [stateKeyOf(e.type, e.state_key!), e.event_id]; }));
  const start = stateAfter.get('START')!;
  const end = [...stateAfter.get('END')!].filter(([k, v]) => want.has(k) || start.get(k) !== v);
  expect(new Map(end)).toEqual(want);
}

const pl = (id: string, sender: string, users: Record<string, number>, extra: Record<string, unknown> = {}): Node =>
  node(id, sender, 'm.room.power_levels', '', { users, ...extra });
const topic = (id: string, sender: string): Node => node(id, sender, 'm.room.topic', '');

describe('state resolution v2', () => {
  it('ban vs. power levels: a ban beats a power change made by the banned user', () => {
    check(
      [pl('PA', ALICE, { [ALICE]: 100, [BOB]: 50 }), node('MA', ALICE, 'm.room.member', ALICE, join), node('MB', ALICE, 'm.room.member', BOB, { membership: 'ban' }), pl('PB', BOB, { [ALICE]: 100, [BOB]: 50 })],
      [['END', 'MB', 'MA', 'PA', 'START'], ['END', 'PB', 'PA']],
      ['PA', 'MA', 'MB'],
    );
  });

  it('join rule evasion: a join made as the room closed does not survive', () => {
    check(
      [node('JR', ALICE, 'm.room.join_rules', '', { join_rules: 'private' }), node('ME', EVELYN, 'm.room.member', EVELYN, join)],
      [['END', 'JR', 'START'], ['END', 'ME', 'START']],
      ['JR'],
    );
  });

  it('off-topic power levels: the chain of power changes wins over the fork', () => {
    check(
      [pl('PA', ALICE, { [ALICE]: 100, [BOB]: 50 }), pl('PB', BOB, { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50 }), pl('PC', CHARLIE, { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 0 })],
      [['END', 'PC', 'PB', 'PA', 'START'], ['END', 'PA']],
      ['PC'],
    );
  });

  it('topic basic: a topic set under power that was taken away loses', () => {
    check(
      [topic('T1', ALICE), pl('PA1', ALICE, { [ALICE]: 100, [BOB]: 50 }), topic('T2', ALICE), pl('PA2', ALICE, { [ALICE]: 100, [BOB]: 0 }), pl('PB', BOB, { [ALICE]: 100, [BOB]: 50 }), topic('T3', BOB)],
      [['END', 'PA2', 'T2', 'PA1', 'T1', 'START'], ['END', 'T3', 'PB', 'PA1']],
      ['PA2', 'T2'],
    );
  });

  it('topic reset: banning the user who changed the topic resets it', () => {
    check(
      [topic('T1', ALICE), pl('PA', ALICE, { [ALICE]: 100, [BOB]: 50 }), topic('T2', BOB), node('MB', ALICE, 'm.room.member', BOB, { membership: 'ban' })],
      [['END', 'MB', 'T2', 'PA', 'T1', 'START'], ['END', 'T1']],
      ['T1', 'MB', 'PA'],
    );
  });

  it('topic: with a message in between, the latest allowed topic wins', () => {
    check(
      [
        topic('T1', ALICE), pl('PA1', ALICE, { [ALICE]: 100, [BOB]: 50 }), topic('T2', ALICE), pl('PA2', ALICE, { [ALICE]: 100, [BOB]: 0 }),
        pl('PB', BOB, { [ALICE]: 100, [BOB]: 50 }), topic('T3', BOB), node('MZ1', ZARA, 'm.room.message', undefined), topic('T4', ALICE),
      ],
      [['END', 'T4', 'MZ1', 'PA2', 'T2', 'PA1', 'T1', 'START'], ['END', 'MZ1', 'T3', 'PB', 'PA1']],
      ['T4', 'PA2'],
    );
  });

  it('mainline ordering: a topic based on the newest power levels wins over a later one on older ones', () => {
    check(
      [
        topic('T1', ALICE), pl('PA1', ALICE, { [ALICE]: 100, [BOB]: 50 }), topic('T2', ALICE),
        pl('PA2', ALICE, { [ALICE]: 100, [BOB]: 50 }, { events: { 'm.room.power_levels': 100 } }), pl('PB', BOB, { [ALICE]: 100, [BOB]: 50 }),
        topic('T3', BOB), topic('T4', ALICE),
      ],
      [['END', 'T3', 'PA2', 'T2', 'PA1', 'T1', 'START'], ['END', 'T4', 'PB', 'PA1']],
      ['T3', 'PA2'],
    );
  });

  it('merges unconflicted forks as they are, and one state as itself', () => {
    const { events, stateAfter } = build([], []);
    const start = stateAfter.get('START')!;
    expect(resolveStateV2(ctx, [start], { get: (id) => events.get(id) })).toEqual(start);
    expect(resolveStateV2(ctx, [start, new Map(start)], { get: (id) => events.get(id) })).toEqual(start);
    expect(resolveStateV2(ctx, [], { get: () => undefined })).toEqual(new Map());
  });

  it('knows its power events', () => {
    const { events } = build([node('K', ALICE, 'm.room.member', BOB, { membership: 'leave' }), node('L', BOB, 'm.room.member', BOB, { membership: 'leave' })], [['END', 'K', 'START'], ['END', 'L', 'START']]);
    expect(['CREATE', 'IPOWER', 'IJR', 'K', 'L', 'IMA'].map((n) => isPowerEvent(events.get(idOf(n))!))).toEqual([false, true, true, true, false, false]);
  });
});
