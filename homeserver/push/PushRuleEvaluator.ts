// Evaluates one user's push rules against an event (spec: Push Notifications, "Push Rules"): override,
// content, room, sender and underride rules in that order, the first enabled rule that matches decides.
// Patterns are matched by Glob (linear, never a RegExp built from what users write). The body-based
// mention rules (.m.rule.contains_display_name, .m.rule.roomnotif, .m.rule.contains_user_name) apply only
// to events without `m.mentions`, as the spec says since v1.7: bridged messages from IRC or SMS carry no
// m.mentions, so "alice: hi" still highlights alice.
import { Glob } from '../matching/Glob.js';
import { PUSH_KINDS, type PushKind, type PushRule, type Ruleset } from './DefaultPushRules.js';
import { parsePropertyPath, valueAt } from './PropertyPath.js';

/** What the conditions may ask about an event and its room, computed only when a condition asks. */
export interface PushTarget {
  /** The event as clients see it: event_id, room_id, sender, type, state_key, content. */
  event: Record<string, unknown>;
  roomMemberCount(): number;
  /** The rule owner's display name in the room, if any. */
  displayName(): string | null;
  /** Whether the sender's power level reaches the room's `notifications[key]` level. */
  senderMayNotify(key: string): boolean;
}

export interface PushDecision {
  ruleId: string;
  /** The rule's actions without the historical `dont_notify` and `coalesce`. */
  actions: unknown[];
  notify: boolean;
  highlight: boolean;
}

type Matcher = (t: PushTarget) => boolean;

interface CompiledRule {
  ruleId: string;
  matches: Matcher;
  actions: unknown[];
  /** A body-based mention rule: skipped for events with m.mentions. */
  legacyMention: boolean;
}

const LEGACY_MENTION_RULES = new Set(['.m.rule.contains_display_name', '.m.rule.roomnotif', '.m.rule.contains_user_name']);
const NEVER: Matcher = () => false;

function isScalar(v: unknown): v is string | number | boolean | null {
  return v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isSafeInteger(v));
}

function isWordChar(ch: string | undefined): boolean {
  return ch !== undefined && /[A-Za-z0-9_]/.test(ch);
}

/** Whether `word` occurs in `text` (case-insensitively) between word boundaries, taken literally. */
export function containsWord(text: string, word: string): boolean {
  if (word.length === 0) return false;
  const hay = text.toLowerCase();
  const needle = word.toLowerCase();
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) {
    if (!isWordChar(hay[i - 1]) && !isWordChar(hay[i + needle.length])) return true;
  }
  return false;
}

function globMatcher(key: string, pattern: string): Matcher {
  const parts = parsePropertyPath(key);
  const glob = Glob.compile(pattern, { questionMark: true, caseInsensitive: true, wordBoundary: key === 'content.body' });
  return (t) => {
    const v = valueAt(t.event, parts);
    return typeof v === 'string' && glob.matches(v);
  };
}

function compileCondition(c: Record<string, unknown>): Matcher {
  const key = c['key'];
  switch (c['kind']) {
    case 'event_match':
      return typeof key === 'string' && typeof c['pattern'] === 'string' ? globMatcher(key, c['pattern']) : NEVER;
    case 'event_property_is': {
      const value = c['value'];
      if (typeof key !== 'string' || !isScalar(value)) return NEVER;
      const parts = parsePropertyPath(key);
      return (t) => {
        const v = valueAt(t.event, parts);
        return isScalar(v) && v === value;
      };
    }
    case 'event_property_contains': {
      const value = c['value'];
      if (typeof key !== 'string' || !isScalar(value)) return NEVER;
      const parts = parsePropertyPath(key);
      return (t) => {
        const v = valueAt(t.event, parts);
        return Array.isArray(v) && v.some((x) => isScalar(x) && x === value);
      };
    }
    case 'contains_display_name':
      return (t) => {
        const body = valueAt(t.event, ['content', 'body']);
        const name = t.displayName();
        return typeof body === 'string' && name !== null && containsWord(body, name);
      };
    case 'room_member_count': {
      const m = typeof c['is'] === 'string' ? /^(==|<=|>=|<|>)?(\d{1,9})$/.exec(c['is']) : null;
      if (!m) return NEVER;
      const n = Number(m[2]);
      const op = m[1] ?? '==';
      return (t) => {
        const count = t.roomMemberCount();
        return op === '==' ? count === n : op === '<' ? count < n : op === '>' ? count > n : op === '<=' ? count <= n : count >= n;
      };
    }
    case 'sender_notification_permission':
      return typeof key === 'string' ? (t) => t.senderMayNotify(key) : NEVER;
    default:
      // Unknown conditions never match, which disables the rule (spec).
      return NEVER;
  }
}

function compileRule(kind: PushKind, rule: PushRule): CompiledRule | null {
  if (!rule.enabled) return null;
  let matches: Matcher;
  if (kind === 'override' || kind === 'underride') {
    const conditions = (rule.conditions ?? []).map(compileCondition);
    matches = (t) => conditions.every((m) => m(t));
  } else if (kind === 'content') {
    matches = typeof rule.pattern === 'string' ? globMatcher('content.body', rule.pattern) : NEVER;
  } else if (kind === 'room') {
    matches = (t) => t.event['room_id'] === rule.rule_id;
  } else {
    matches = (t) => t.event['sender'] === rule.rule_id;
  }
  const actions = rule.actions.filter((a) => a !== 'dont_notify' && a !== 'coalesce');
  return { ruleId: rule.rule_id, matches, actions, legacyMention: LEGACY_MENTION_RULES.has(rule.rule_id) };
}

function isHighlight(action: unknown): boolean {
  if (typeof action !== 'object' || action === null) return false;
  const a = action as Record<string, unknown>;
  return a['set_tweak'] === 'highlight' && a['value'] !== false;
}

/** One user's rules, compiled once: evaluate() runs for every event the user might be notified of. */
export class CompiledRuleset {
  private readonly rules: CompiledRule[] = [];

  constructor(ruleset: Ruleset) {
    for (const kind of PUSH_KINDS) {
      for (const rule of ruleset[kind]) {
        const compiled = compileRule(kind, rule);
        if (compiled) this.rules.push(compiled);
      }
    }
  }

  /** The first matching rule's decision, or null when no rule matches (then nothing is notified). */
  evaluate(t: PushTarget): PushDecision | null {
    const content = t.event['content'];
    const hasMentions = typeof content === 'object' && content !== null && Object.prototype.hasOwnProperty.call(content, 'm.mentions');
    for (const rule of this.rules) {
      if (rule.legacyMention && hasMentions) continue;
      if (!rule.matches(t)) continue;
      return { ruleId: rule.ruleId, actions: rule.actions, notify: rule.actions.includes('notify'), highlight: rule.actions.some(isHighlight) };
    }
    return null;
  }
}
