// The push rule evaluator against the spec's default rules (v1.11's set, in the spec's order) and the
// conditions users write: what notifies, what highlights, what stays silent.
import { describe, expect, it } from '@jest/globals';
import { defaultPushRules, type PushRule, type Ruleset } from '../../../homeserver/push/DefaultPushRules.js';
import { CompiledRuleset, containsWord, type PushTarget } from '../../../homeserver/push/PushRuleEvaluator.js';
import { parsePropertyPath } from '../../../homeserver/push/PropertyPath.js';

const ME = '@alice:hs.test';
const ROOM = '!room:hs.test';

interface Setup {
  members?: number;
  displayName?: string | null;
  senderLevel?: number;
  notificationLevel?: number;
}

function target(event: Record<string, unknown>, s: Setup = {}): PushTarget {
  return {
    event: { event_id: '$e', room_id: ROOM, sender: '@bob:hs.test', type: 'm.room.message', ...event },
    roomMemberCount: () => s.members ?? 5,
    displayName: () => (s.displayName === undefined ? 'Alice Liddell' : s.displayName),
    senderMayNotify: () => (s.senderLevel ?? 0) >= (s.notificationLevel ?? 50),
  };
}

const text = (body: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ content: { msgtype: 'm.text', body, ...extra } });

function decide(event: Record<string, unknown>, s: Setup = {}, rules: Ruleset = defaultPushRules(ME)) {
  const d = new CompiledRuleset(rules).evaluate(target(event, s));
  return d && { rule: d.ruleId, notify: d.notify, highlight: d.highlight };
}

function withRule(kind: keyof Ruleset, rule: Partial<PushRule> & { rule_id: string }): Ruleset {
  const rules = defaultPushRules(ME);
  rules[kind].unshift({ default: false, enabled: true, actions: ['notify'], ...rule });
  return rules;
}

describe('default push rules', () => {
  it('keeps the spec\'s order of override, content and underride rules', () => {
    const r = defaultPushRules(ME);
    expect(r.override.map((x) => x.rule_id)).toEqual([
      '.m.rule.master',
      '.m.rule.suppress_notices',
      '.m.rule.invite_for_me',
      '.m.rule.member_event',
      '.m.rule.is_user_mention',
      '.m.rule.contains_display_name',
      '.m.rule.is_room_mention',
      '.m.rule.roomnotif',
      '.m.rule.tombstone',
      '.m.rule.reaction',
      '.m.rule.room.server_acl',
      '.m.rule.suppress_edits',
    ]);
    expect(r.content.map((x) => x.rule_id)).toEqual(['.m.rule.contains_user_name']);
    expect(r.underride.map((x) => x.rule_id)).toEqual([
      '.m.rule.call',
      '.m.rule.encrypted_room_one_to_one',
      '.m.rule.room_one_to_one',
      '.m.rule.message',
      '.m.rule.encrypted',
    ]);
  });

  it('notifies messages, with a sound in one-to-one rooms, and keeps notices quiet', () => {
    expect(decide(text('hello'))).toEqual({ rule: '.m.rule.message', notify: true, highlight: false });
    expect(decide(text('hello'), { members: 2 })).toEqual({ rule: '.m.rule.room_one_to_one', notify: true, highlight: false });
    expect(decide({ type: 'm.room.encrypted', content: { algorithm: 'x' } }, { members: 2 })?.rule).toBe('.m.rule.encrypted_room_one_to_one');
    expect(decide({ type: 'm.room.encrypted', content: { algorithm: 'x' } })?.rule).toBe('.m.rule.encrypted');
    expect(decide({ content: { msgtype: 'm.notice', body: 'alice: bot says hi' } })).toEqual({ rule: '.m.rule.suppress_notices', notify: false, highlight: false });
    expect(decide({ type: 'm.call.invite', content: {} })?.rule).toBe('.m.rule.call');
    expect(decide({ type: 'org.example.custom', content: {} })).toBeNull();
  });

  it('highlights mentions: m.mentions, and for events without it the name, the localpart and @room', () => {
    expect(decide(text('hi', { 'm.mentions': { user_ids: [ME] } }))).toEqual({ rule: '.m.rule.is_user_mention', notify: true, highlight: true });
    // Bridged messages carry no m.mentions: the body decides.
    expect(decide(text('Alice Liddell: your call'))?.rule).toBe('.m.rule.contains_display_name');
    expect(decide(text('ALICE, are you there?'), { displayName: null })?.rule).toBe('.m.rule.contains_user_name');
    expect(decide(text('malice aforethought'), { displayName: null })?.rule).toBe('.m.rule.message');
    // With m.mentions present, the body-based rules stand down.
    expect(decide(text('alice: hi', { 'm.mentions': {} }), { displayName: null })?.rule).toBe('.m.rule.message');
    expect(decide(text('@room lunch'), { senderLevel: 50 })).toEqual({ rule: '.m.rule.roomnotif', notify: true, highlight: true });
    expect(decide(text('@room lunch'), { senderLevel: 0 })?.rule).toBe('.m.rule.message');
    expect(decide(text('lunch', { 'm.mentions': { room: true } }), { senderLevel: 50 })?.rule).toBe('.m.rule.is_room_mention');
    expect(decide(text('lunch', { 'm.mentions': { room: 'true' } }), { senderLevel: 50 })?.rule).toBe('.m.rule.message');
  });

  it('stays quiet for edits, reactions and other people\'s membership, but not for an invite to me or a tombstone', () => {
    expect(decide(text('* fixed', { 'm.relates_to': { rel_type: 'm.replace', event_id: '$x' } }))?.notify).toBe(false);
    expect(decide({ type: 'm.reaction', content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: '$x', key: 'x' } } })?.notify).toBe(false);
    expect(decide({ type: 'm.room.member', state_key: '@carol:hs.test', content: { membership: 'join' } })?.notify).toBe(false);
    expect(decide({ type: 'm.room.member', state_key: ME, content: { membership: 'invite' } })).toEqual({ rule: '.m.rule.invite_for_me', notify: true, highlight: false });
    expect(decide({ type: 'm.room.tombstone', state_key: '', content: { replacement_room: '!new:hs.test' } })).toEqual({ rule: '.m.rule.tombstone', notify: true, highlight: true });
  });
});

describe('rules users write', () => {
  it('mutes a room (an override on room_id, or a room rule with the historical dont_notify)', () => {
    expect(decide(text('alice: hi'), {}, withRule('override', { rule_id: ROOM, actions: [], conditions: [{ kind: 'event_match', key: 'room_id', pattern: ROOM }] }))?.notify).toBe(false);
    expect(decide(text('hello'), {}, withRule('room', { rule_id: ROOM, actions: ['dont_notify'] }))).toEqual({ rule: ROOM, notify: false, highlight: false });
    expect(decide(text('hello'), {}, withRule('sender', { rule_id: '@bob:hs.test', actions: [] }))?.notify).toBe(false);
  });

  it('matches keywords as globs on word boundaries, case-insensitively', () => {
    const cake = withRule('content', { rule_id: 'cake', pattern: 'c?ke*', actions: ['notify', { set_tweak: 'highlight' }] });
    expect(decide(text('Who wants CAKES?'), { displayName: null }, cake)?.rule).toBe('cake');
    expect(decide(text('pancake'), { displayName: null }, cake)?.rule).toBe('.m.rule.message');
    expect(decide(text('ck'), { displayName: null }, cake)?.rule).toBe('.m.rule.message');
    const value = withRule('override', { rule_id: 'topic', conditions: [{ kind: 'event_match', key: 'content.topic', pattern: 'lunc?*' }] });
    expect(decide({ type: 'm.room.topic', state_key: '', content: { topic: 'Lunch plans' } }, {}, value)?.rule).toBe('topic');
    expect(decide({ type: 'm.room.topic', state_key: '', content: { topic: ' lunch' } }, {}, value)).toBeNull();
    expect(decide({ type: 'm.room.topic', state_key: '', content: { topic: null } }, {}, value)).toBeNull();
  });

  it('compares exact values and array members, follows escaped paths, and ignores unknown conditions', () => {
    const is = withRule('override', { rule_id: 'is', conditions: [{ kind: 'event_property_is', key: 'content.m\\.federate', value: true }] });
    expect(decide({ type: 'm.room.create', content: { 'm.federate': true } }, {}, is)?.rule).toBe('is');
    expect(decide({ type: 'm.room.create', content: { 'm.federate': 'true' } }, {}, is)).toBeNull();
    const contains = withRule('override', { rule_id: 'has', conditions: [{ kind: 'event_property_contains', key: 'content.tags', value: 'urgent' }] });
    expect(decide({ type: 'org.example.tagged', content: { tags: ['x', 'urgent'] } }, {}, contains)?.rule).toBe('has');
    expect(decide({ type: 'org.example.tagged', content: { tags: 'urgent' } }, {}, contains)).toBeNull();
    const unknown = withRule('override', { rule_id: 'new', conditions: [{ kind: 'org.example.future' }] });
    expect(decide(text('hello'), {}, unknown)?.rule).toBe('.m.rule.message');
    const count = withRule('override', { rule_id: 'small', conditions: [{ kind: 'room_member_count', is: '<=10' }] });
    expect(decide(text('hi'), { members: 10 }, count)?.rule).toBe('small');
    expect(decide(text('hi'), { members: 11 }, count)?.rule).toBe('.m.rule.message');
    expect(parsePropertyPath('content.m\\.relates_to.a\\\\b.c\\x')).toEqual(['content', 'm.relates_to', 'a\\b', 'c\\x']);
  });

  it('turns everything off with the master rule, and a disabled rule never matches', () => {
    const master = defaultPushRules(ME);
    master.override[0]!.enabled = true;
    expect(decide(text('alice!'), {}, master)?.notify).toBe(false);
    const off = defaultPushRules(ME);
    off.underride.find((r) => r.rule_id === '.m.rule.message')!.enabled = false;
    expect(decide(text('hello'), {}, off)).toBeNull();
  });

  it('matches hostile patterns and long bodies without backtracking', () => {
    const hostile = withRule('content', { rule_id: 'h', pattern: 'a*a*a*a*a*a*a*b' });
    expect(decide(text('a'.repeat(20_000)), { displayName: null }, hostile)?.rule).toBe('.m.rule.message');
    expect(containsWord('x'.repeat(10_000) + ' Bob', 'bob')).toBe(true);
  });
});
