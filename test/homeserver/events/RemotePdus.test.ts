// Storing PDUs from another server: timeline events extend the graph and the current state; outliers,
// soft-failed and rejected events are kept with their status only; a fork is merged by state resolution
// v2, and the next local event names every extremity.
import { describe, expect, it } from '@jest/globals';
import { EventStore } from '../../../homeserver/events/EventStore.js';
import { stateKeyOf, type RoomEvent } from '../../../homeserver/federation/eventauth/RoomState.js';
import { ephemeralSigningKeys } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import { LocalEventSigner } from '../../../homeserver/federation/pdu/LocalEventSigner.js';
import { openDatabase } from '../../../homeserver/storage/Database.js';
import { StreamCounter } from '../../../homeserver/storage/StreamCounter.js';

const ROOM = '!remote:b.test';
const ALICE = '@alice:b.test';
const BOB = '@bob:a.test';
const b = new LocalEventSigner('b.test', ephemeralSigningKeys().current);

let ts = 1_700_000_000_000;
function make(fields: { type: string; state_key?: string; content: Record<string, unknown>; auth: RoomEvent[]; prev: RoomEvent[]; sender?: string }): RoomEvent {
  const { eventId, pdu } = b.sign('10', {
    room_id: ROOM,
    sender: fields.sender ?? ALICE,
    type: fields.type,
    ...(fields.state_key !== undefined && { state_key: fields.state_key }),
    content: fields.content,
    auth_events: fields.auth.map((e) => e.event_id),
    prev_events: fields.prev.map((e) => e.event_id),
    depth: 1 + Math.max(0, ...fields.prev.map((e) => e.depth)),
    origin_server_ts: ++ts,
  });
  return { ...pdu, event_id: eventId };
}

function setup() {
  const db = openDatabase({ kind: 'memory' });
  const events = new EventStore(db, new StreamCounter(db), new LocalEventSigner('a.test', ephemeralSigningKeys().current));
  events.write(() => events.insertRoom(ROOM, '10', ALICE));
  const create = make({ type: 'm.room.create', state_key: '', content: { creator: ALICE, room_version: '10' }, auth: [], prev: [] });
  const join = make({ type: 'm.room.member', state_key: ALICE, content: { membership: 'join' }, auth: [create], prev: [create] });
  const power = make({ type: 'm.room.power_levels', state_key: '', content: { users: { [ALICE]: 100 } }, auth: [create, join], prev: [join] });
  const rules = make({ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'public' }, auth: [create, power, join], prev: [power] });
  const timeline = (e: RoomEvent) => events.write(() => events.storeRemote({ eventId: e.event_id, pdu: e, status: 'timeline', stateBefore: events.stateIds(ROOM) }));
  for (const e of [create, join, power, rules]) timeline(e);
  return { events, create, join, power, rules, timeline };
}

describe('storing PDUs from another server', () => {
  it('puts timeline events in the stream and the current state, under their own ids', () => {
    const { events, create, join, rules } = setup();
    expect(events.stateEvent(ROOM, 'm.room.create', '')?.event_id).toBe(create.event_id);
    expect(events.membership(ROOM, ALICE)).toMatchObject({ membership: 'join', event_id: join.event_id });
    expect(events.forwardExtremities(ROOM)).toEqual([rules.event_id]);
    expect(events.pduEntry(rules.event_id)).toMatchObject({ status: 'timeline', legacyId: false, event: { event_id: rules.event_id } });
    expect(events.latestEvents(ROOM, 0, Infinity, 10).map((e) => e.type)).toEqual(['m.room.create', 'm.room.member', 'm.room.power_levels', 'm.room.join_rules']);
  });

  it('keeps outliers, soft-failed and rejected events out of the timeline, the state and the extremities', () => {
    const { events, create, power, join, rules } = setup();
    const heard: string[] = [];
    events.onAppend((evs) => heard.push(...evs.map((e) => e.event_id)));
    const topic = (t: string) => make({ type: 'm.room.topic', state_key: '', content: { topic: t }, auth: [create, power, join], prev: [rules] });
    const [outlier, soft, rejected] = [topic('outlier'), topic('soft'), topic('rejected')];
    events.write(() => {
      expect(events.storeRemote({ eventId: outlier.event_id, pdu: outlier, status: 'outlier' })).toBeNull();
      expect(events.storeRemote({ eventId: soft.event_id, pdu: soft, status: 'soft_failed' })).toBeNull();
      expect(events.storeRemote({ eventId: rejected.event_id, pdu: rejected, status: 'rejected', reason: 'not allowed' })).toBeNull();
    });
    expect([outlier, soft, rejected].map((e) => events.pduEntry(e.event_id)?.status)).toEqual(['outlier', 'soft_failed', 'rejected']);
    expect(events.pduEntry(rejected.event_id)?.rejected).toBe('not allowed');
    expect([outlier, soft, rejected].map((e) => events.event(e.event_id))).toEqual([null, null, null]);
    expect(events.stateEvent(ROOM, 'm.room.topic', '')).toBeNull();
    expect(events.forwardExtremities(ROOM)).toEqual([rules.event_id]);
    expect(heard).toEqual([]);
    // The outlier later joins the timeline (its prev_events are known now): stored once, in the stream.
    events.write(() => events.storeRemote({ eventId: outlier.event_id, pdu: outlier, status: 'timeline', stateBefore: events.stateIds(ROOM) }));
    expect(heard).toEqual([outlier.event_id]);
    expect(events.stateEvent(ROOM, 'm.room.topic', '')?.event_id).toBe(outlier.event_id);
    events.write(() => expect(events.storeRemote({ eventId: outlier.event_id, pdu: outlier, status: 'timeline', stateBefore: new Map() })).toBeNull());
  });

  it('merges a fork with state resolution v2 and builds the next local event on both sides', () => {
    const { events, create, power, join, rules, timeline } = setup();
    const stateAtRules = events.stateIds(ROOM);
    // B is older than A, but arrives after it.
    const bTopic = make({ type: 'm.room.topic', state_key: '', content: { topic: 'side B' }, auth: [create, power, join], prev: [rules] });
    const a = make({ type: 'm.room.topic', state_key: '', content: { topic: 'side A' }, auth: [create, power, join], prev: [rules] });
    timeline(a);
    expect(events.stateEvent(ROOM, 'm.room.topic', '')?.event_id).toBe(a.event_id);
    // B was made beside A (same prev_events): the state before it has no topic.
    events.write(() => events.storeRemote({ eventId: bTopic.event_id, pdu: bTopic, status: 'timeline', stateBefore: stateAtRules }));
    expect(new Set(events.forwardExtremities(ROOM))).toEqual(new Set([a.event_id, bTopic.event_id]));
    // Same power and mainline: the later origin_server_ts wins, so A stays (B alone would have replaced it).
    expect(events.stateEvent(ROOM, 'm.room.topic', '')?.event_id).toBe(a.event_id);
    expect(events.stateIds(ROOM).get(stateKeyOf('m.room.topic', ''))).toBe(a.event_id);

    // Bob of this server joins: his event names both extremities and is one deeper than them.
    const joined = events.write(() => events.append({ room_id: ROOM, sender: BOB, type: 'm.room.member', state_key: BOB, content: { membership: 'join' } }));
    const pdu = events.pdu(joined.event_id)!;
    expect(new Set(pdu.prev_events)).toEqual(new Set([a.event_id, bTopic.event_id]));
    expect(pdu.depth).toBe(Math.max(a.depth, bTopic.depth) + 1);
    expect(events.forwardExtremities(ROOM)).toEqual([joined.event_id]);
  });

  it('records the state before and after each event of the graph, per branch of a fork', () => {
    const { events, create, power, join, rules } = setup();
    const groups = events.stateGroups;
    const stateAtRules = events.stateIds(ROOM);
    const a = make({ type: 'm.room.topic', state_key: '', content: { topic: 'side A' }, auth: [create, power, join], prev: [rules] });
    const bTopic = make({ type: 'm.room.topic', state_key: '', content: { topic: 'side B' }, auth: [create, power, join], prev: [rules] });
    const bMessage = make({ type: 'm.room.message', content: { body: 'on B' }, auth: [create, power, join], prev: [bTopic] });
    events.write(() => events.storeRemote({ eventId: a.event_id, pdu: a, status: 'timeline', stateBefore: stateAtRules }));
    events.write(() => events.storeRemote({ eventId: bTopic.event_id, pdu: bTopic, status: 'timeline', stateBefore: stateAtRules }));
    const afterB = new Map([...stateAtRules, [stateKeyOf('m.room.topic', ''), bTopic.event_id]]);
    events.write(() => events.storeRemote({ eventId: bMessage.event_id, pdu: bMessage, status: 'timeline', stateBefore: afterB }));
    const topicOf = (group: number) => groups.state(group).get(stateKeyOf('m.room.topic', ''));
    // In stream order A's topic came before B's message; the message's own branch has B's topic.
    expect(topicOf(groups.ofEvent(bMessage.event_id)!.before)).toBe(bTopic.event_id);
    expect(topicOf(groups.ofEvent(a.event_id)!.after)).toBe(a.event_id);
    expect(topicOf(groups.ofEvent(a.event_id)!.before)).toBeUndefined();
    // A message changes no state: one group before and after, shared with the event it follows.
    expect(groups.ofEvent(bMessage.event_id)!.before).toBe(groups.ofEvent(bMessage.event_id)!.after);
    expect(groups.ofEvent(bMessage.event_id)!.before).toBe(groups.ofEvent(bTopic.event_id)!.after);
    // The current state's group follows the resolved state, which a local event then builds on.
    const local = events.write(() => events.append({ room_id: ROOM, sender: BOB, type: 'm.room.member', state_key: BOB, content: { membership: 'join' } }));
    expect(groups.state(groups.ofEvent(local.event_id)!.before)).toEqual(new Map([...events.stateIds(ROOM)].filter(([k]) => k !== stateKeyOf('m.room.member', BOB))));
  });

  it('stores backfilled history below the stream, unannounced, and an outlier the state names likewise', () => {
    const { events, create, power, join, rules } = setup();
    const heard: string[] = [];
    events.onAppend((evs) => heard.push(...evs.map((e) => e.event_id)));
    const old = make({ type: 'm.room.message', content: { body: 'old' }, auth: [create, power, join], prev: [join] });
    const topic = make({ type: 'm.room.topic', state_key: '', content: { topic: 'from a gap' }, auth: [create, power, join], prev: [rules] });
    const next = make({ type: 'm.room.message', content: { body: 'after the gap' }, auth: [create, power, join], prev: [topic] });
    events.write(() => events.storeBackfilled([{ eventId: old.event_id, pdu: old }]));
    events.write(() => events.storeRemote({ eventId: topic.event_id, pdu: topic, status: 'outlier' }));
    events.write(() => events.storeRemote({ eventId: next.event_id, pdu: next, status: 'timeline', stateBefore: new Map([...events.stateIds(ROOM), [stateKeyOf('m.room.topic', ''), topic.event_id]]) }));
    expect(events.event(old.event_id)!.pos).toBeLessThan(0);
    expect(events.event(topic.event_id)!.pos).toBeLessThan(events.event(old.event_id)!.pos);
    expect(events.stateEvent(ROOM, 'm.room.topic', '')?.event_id).toBe(topic.event_id);
    expect(heard).toEqual([next.event_id]);
  });
});
