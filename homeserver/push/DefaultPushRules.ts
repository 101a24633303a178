// The spec's server-default push rules (v1.19), generated per user because some mention the user.
export type PushKind = 'override' | 'content' | 'room' | 'sender' | 'underride';
export const PUSH_KINDS: PushKind[] = ['override', 'content', 'room', 'sender', 'underride'];

export interface PushRule {
  rule_id: string;
  default: boolean;
  enabled: boolean;
  actions: unknown[];
  conditions?: Array<Record<string, unknown>>;
  pattern?: string;
}

export type Ruleset = Record<PushKind, PushRule[]>;

const notifySound = (sound: string): unknown[] => ['notify', { set_tweak: 'sound', value: sound }];
const highlight = { set_tweak: 'highlight' };

function rule(rule_id: string, conditions: Array<Record<string, unknown>>, actions: unknown[], enabled = true): PushRule {
  return { rule_id, default: true, enabled, conditions, actions };
}

const ev = (key: string, pattern: string): Record<string, unknown> => ({ kind: 'event_match', key, pattern });

export function defaultPushRules(userId: string): Ruleset {
  const localpart = userId.slice(1, userId.indexOf(':'));
  return {
    override: [
      rule('.m.rule.master', [], [], false),
      rule('.m.rule.suppress_notices', [ev('content.msgtype', 'm.notice')], []),
      rule(
        '.m.rule.invite_for_me',
        [ev('type', 'm.room.member'), ev('content.membership', 'invite'), ev('state_key', userId)],
        notifySound('default'),
      ),
      rule('.m.rule.member_event', [ev('type', 'm.room.member')], []),
      rule(
        '.m.rule.is_user_mention',
        [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: userId }],
        [...notifySound('default'), highlight],
      ),
      rule('.m.rule.contains_display_name', [{ kind: 'contains_display_name' }], [...notifySound('default'), highlight]),
      rule(
        '.m.rule.is_room_mention',
        [
          { kind: 'event_property_is', key: 'content.m\\.mentions.room', value: true },
          { kind: 'sender_notification_permission', key: 'room' },
        ],
        ['notify', highlight],
      ),
      rule(
        '.m.rule.roomnotif',
        [{ kind: 'sender_notification_permission', key: 'room' }, ev('content.body', '@room')],
        ['notify', highlight],
      ),
      rule('.m.rule.tombstone', [ev('type', 'm.room.tombstone'), ev('state_key', '')], ['notify', highlight]),
      rule('.m.rule.reaction', [ev('type', 'm.reaction')], []),
      rule('.m.rule.room.server_acl', [ev('type', 'm.room.server_acl'), ev('state_key', '')], []),
      rule(
        '.m.rule.suppress_edits',
        [{ kind: 'event_property_is', key: 'content.m\\.relates_to.rel_type', value: 'm.replace' }],
        [],
      ),
    ],
    content: [
      {
        rule_id: '.m.rule.contains_user_name',
        default: true,
        enabled: true,
        pattern: localpart,
        actions: [...notifySound('default'), highlight],
      },
    ],
    room: [],
    sender: [],
    underride: [
      rule('.m.rule.call', [ev('type', 'm.call.invite')], notifySound('ring')),
      rule(
        '.m.rule.encrypted_room_one_to_one',
        [{ kind: 'room_member_count', is: '2' }, ev('type', 'm.room.encrypted')],
        notifySound('default'),
      ),
      rule('.m.rule.room_one_to_one', [{ kind: 'room_member_count', is: '2' }, ev('type', 'm.room.message')], notifySound('default')),
      rule('.m.rule.message', [ev('type', 'm.room.message')], ['notify']),
      rule('.m.rule.encrypted', [ev('type', 'm.room.encrypted')], ['notify']),
    ],
  };
}
