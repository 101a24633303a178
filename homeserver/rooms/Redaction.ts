// The spec's redaction algorithm (room versions 10 and 11): which content keys survive a redaction.
const KEPT_CONTENT: Record<string, Record<string, readonly string[] | 'all'>> = {
  '10': {
    'm.room.member': ['membership', 'join_authorised_via_users_server'],
    'm.room.create': ['creator'],
    'm.room.join_rules': ['join_rule', 'allow'],
    'm.room.power_levels': ['ban', 'events', 'events_default', 'kick', 'redact', 'state_default', 'users', 'users_default'],
    'm.room.history_visibility': ['history_visibility'],
  },
  '11': {
    'm.room.member': ['membership', 'join_authorised_via_users_server', 'third_party_invite'],
    'm.room.create': 'all',
    'm.room.join_rules': ['join_rule', 'allow'],
    'm.room.power_levels': ['ban', 'events', 'events_default', 'invite', 'kick', 'redact', 'state_default', 'users', 'users_default'],
    'm.room.history_visibility': ['history_visibility'],
    'm.room.redaction': ['redacts'],
  },
};

export function redactContent(roomVersion: string, type: string, content: Record<string, unknown>): Record<string, unknown> {
  const rules = KEPT_CONTENT[roomVersion] ?? KEPT_CONTENT['11']!;
  const kept = rules[type];
  if (kept === 'all') return { ...content };
  const out: Record<string, unknown> = {};
  if (!kept) return out;
  for (const key of kept) {
    if (!(key in content)) continue;
    if (type === 'm.room.member' && key === 'third_party_invite') {
      // v11 keeps only the `signed` part of a third-party invite.
      const tpi = content[key];
      if (tpi && typeof tpi === 'object' && 'signed' in tpi) out[key] = { signed: (tpi as Record<string, unknown>)['signed'] };
      continue;
    }
    out[key] = content[key];
  }
  return out;
}
