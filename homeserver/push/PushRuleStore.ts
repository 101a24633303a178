// A user's push rules: the server defaults (whose `enabled` and `actions` the user may change) merged with
// the user's own rules. Every change is also written as the m.push_rules account data event, which is how
// clients learn about push rules in /sync.
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import { MatrixError } from '../MatrixError.js';
import type { AccountDataStore } from '../accounts/AccountDataStore.js';
import { LRUCache } from 'lru-cache';
import { defaultPushRules, PUSH_KINDS, type PushKind, type PushRule, type Ruleset } from './DefaultPushRules.js';
import { CompiledRuleset } from './PushRuleEvaluator.js';

interface UserPushDoc {
  user: Ruleset;
  defaults: Record<string, { enabled?: boolean; actions?: unknown[] }>;
}

function emptyRuleset(): Ruleset {
  return { override: [], content: [], room: [], sender: [], underride: [] };
}

/**
 * Longest glob a rule may carry. Matching costs up to (value length x pattern length) steps, for every
 * event and every user whose rules have the pattern, so the pattern side is kept small.
 */
export const MAX_PATTERN_CHARS = 256;

function checkPattern(pattern: unknown, where: string): void {
  if (typeof pattern === 'string' && pattern.length > MAX_PATTERN_CHARS) {
    throw new MatrixError(400, 'M_INVALID_PARAM', `${where} is longer than ${MAX_PATTERN_CHARS} characters`);
  }
}

export function isPushKind(k: string): k is PushKind {
  return (PUSH_KINDS as string[]).includes(k);
}

export class PushRuleStore {
  private readonly s;
  /** Compiled rulesets of users notified lately; a change of a user's rules drops theirs. */
  private readonly compiledRules = new LRUCache<string, CompiledRuleset>({ max: 10_000 });

  constructor(
    private readonly db: SqlDatabase,
    private readonly accountData: AccountDataStore,
  ) {
    this.s = {
      get: db.prepare('SELECT doc FROM push_rules WHERE user_id = ?'),
      put: db.prepare(
        'INSERT INTO push_rules (user_id, doc) VALUES (?, ?) ON CONFLICT(user_id) DO UPDATE SET doc = excluded.doc',
      ),
    };
  }

  ruleset(userId: string): Ruleset {
    const doc = this.doc(userId);
    const defaults = defaultPushRules(userId);
    const out = emptyRuleset();
    const withChanges = (r: PushRule): PushRule => {
      const change = doc.defaults[r.rule_id];
      return { ...r, enabled: change?.enabled ?? r.enabled, actions: change?.actions ?? r.actions };
    };
    for (const kind of PUSH_KINDS) {
      const defs = defaults[kind].map(withChanges);
      if (kind === 'override') {
        // .m.rule.master outranks everything, the other defaults rank below the user's own rules.
        out.override = [...defs.filter((r) => r.rule_id === '.m.rule.master'), ...doc.user.override, ...defs.filter((r) => r.rule_id !== '.m.rule.master')];
      } else {
        out[kind] = [...doc.user[kind], ...defs];
      }
    }
    return out;
  }

  /** The user's rules ready to evaluate (push actions are worked out with these for every event). */
  compiled(userId: string): CompiledRuleset {
    let rules = this.compiledRules.get(userId);
    if (!rules) {
      rules = new CompiledRuleset(this.ruleset(userId));
      this.compiledRules.set(userId, rules);
    }
    return rules;
  }

  get(userId: string, kind: PushKind, ruleId: string): PushRule {
    const found = this.ruleset(userId)[kind].find((r) => r.rule_id === ruleId);
    if (!found) throw new MatrixError(404, 'M_NOT_FOUND', `Unknown push rule ${kind}/${ruleId}`);
    return found;
  }

  put(userId: string, kind: PushKind, ruleId: string, body: Record<string, unknown>, before?: string, after?: string): void {
    if (ruleId.startsWith('.')) throw new MatrixError(400, 'M_INVALID_PARAM', 'Rule IDs starting with "." are reserved for server defaults');
    if (/[/\\]/.test(ruleId) || ruleId.length === 0) throw new MatrixError(400, 'M_INVALID_PARAM', 'Invalid rule ID');
    const actions = body['actions'];
    if (!Array.isArray(actions)) throw new MatrixError(400, 'M_BAD_JSON', 'actions must be a list');
    const rule: PushRule = { rule_id: ruleId, default: false, enabled: true, actions };
    if (kind === 'override' || kind === 'underride') {
      const conditions = body['conditions'] ?? [];
      if (!Array.isArray(conditions) || conditions.some((c) => !c || typeof c !== 'object' || Array.isArray(c))) {
        throw new MatrixError(400, 'M_BAD_JSON', 'conditions must be a list of objects');
      }
      rule.conditions = conditions as Array<Record<string, unknown>>;
      for (const c of rule.conditions) checkPattern(c['pattern'], 'A condition\'s pattern');
    } else if (kind === 'content') {
      if (typeof body['pattern'] !== 'string') throw new MatrixError(400, 'M_MISSING_PARAM', 'content rules need a pattern');
      checkPattern(body['pattern'], 'pattern');
      rule.pattern = body['pattern'];
    }
    this.update(userId, (doc) => {
      const list = doc.user[kind];
      const existing = list.findIndex((r) => r.rule_id === ruleId);
      if (existing >= 0) {
        rule.enabled = list[existing]!.enabled;
        list.splice(existing, 1);
      }
      const anchor = before ?? after;
      if (anchor !== undefined) {
        const i = list.findIndex((r) => r.rule_id === anchor);
        if (i < 0) throw new MatrixError(400, 'M_UNKNOWN', `before/after rule not found: ${anchor}`);
        list.splice(before !== undefined ? i : i + 1, 0, rule);
      } else if (existing >= 0) {
        list.splice(existing, 0, rule);
      } else {
        list.unshift(rule);
      }
    });
  }

  delete(userId: string, kind: PushKind, ruleId: string): void {
    this.update(userId, (doc) => {
      const i = doc.user[kind].findIndex((r) => r.rule_id === ruleId);
      if (i < 0) {
        if (defaultPushRules(userId)[kind].some((r) => r.rule_id === ruleId)) {
          throw new MatrixError(400, 'M_INVALID_PARAM', 'Server default rules cannot be deleted');
        }
        throw new MatrixError(404, 'M_NOT_FOUND', `Unknown push rule ${kind}/${ruleId}`);
      }
      doc.user[kind].splice(i, 1);
    });
  }

  setEnabled(userId: string, kind: PushKind, ruleId: string, enabled: boolean): void {
    this.modify(userId, kind, ruleId, (r) => (r.enabled = enabled), (d) => (d.enabled = enabled));
  }

  setActions(userId: string, kind: PushKind, ruleId: string, actions: unknown[]): void {
    this.modify(userId, kind, ruleId, (r) => (r.actions = actions), (d) => (d.actions = actions));
  }

  /** The m.push_rules account data content. */
  accountDataContent(userId: string): Record<string, unknown> {
    return { global: this.ruleset(userId) };
  }

  private modify(
    userId: string,
    kind: PushKind,
    ruleId: string,
    onUser: (r: PushRule) => void,
    onDefault: (d: { enabled?: boolean; actions?: unknown[] }) => void,
  ): void {
    this.update(userId, (doc) => {
      const own = doc.user[kind].find((r) => r.rule_id === ruleId);
      if (own) return onUser(own);
      if (!defaultPushRules(userId)[kind].some((r) => r.rule_id === ruleId)) {
        throw new MatrixError(404, 'M_NOT_FOUND', `Unknown push rule ${kind}/${ruleId}`);
      }
      onDefault((doc.defaults[ruleId] ??= {}));
    });
  }

  private doc(userId: string): UserPushDoc {
    const row = this.s.get.get(userId) as { doc: string } | undefined;
    if (!row) return { user: emptyRuleset(), defaults: {} };
    return JSON.parse(row.doc) as UserPushDoc;
  }

  private update(userId: string, change: (doc: UserPushDoc) => void): void {
    this.db.transaction(() => {
      const doc = this.doc(userId);
      change(doc);
      this.s.put.run(userId, JSON.stringify(doc));
      this.accountData.set(userId, null, 'm.push_rules', this.accountDataContent(userId));
    })();
    this.compiledRules.delete(userId);
  }
}
