// Toll-fraud protection: which Matrix users may call or text which numbers, and how often. A number must
// match an allow rule for the user and no deny entry; premium-rate and shared-cost numbers are denied by
// default, and the default allow rule covers this server's users calling national numbers only.
import type { NumberPlan } from '../numbers/NumberPlan.js';
import type { RemoteParty } from '../numbers/RemoteParty.js';
import { anyGlob, glob, type Glob } from './Glob.js';

export interface OutboundRules {
  allow: Array<{ users: string[]; numbers: string[] }>;
  deny: string[];
  callsPerMinute: number;
  maxConcurrentCalls: number;
}

export type PolicyVerdict = { ok: true } | { ok: false; reason: string };

type NumberRule = (party: RemoteParty) => boolean;

const KIND_RULES: Record<string, (plan: NumberPlan) => NumberRule> = {
  any: () => () => true,
  national: (plan) => (p) => p.number !== null && plan.isNational(p.number),
  international: (plan) => (p) => p.number !== null && !plan.isNational(p.number),
  premium: () => (p) => p.number?.type === 'PREMIUM_RATE',
  shared_cost: () => (p) => p.number?.type === 'SHARED_COST',
  sip: () => (p) => p.number === null,
};

function numberRule(plan: NumberPlan, pattern: string): NumberRule {
  const kind = KIND_RULES[pattern];
  if (kind) return kind(plan);
  const g: Glob = glob(pattern);
  return (p) => g(p.id);
}

export class OutboundPolicy {
  private readonly allow: Array<{ users: Glob; numbers: NumberRule[] }>;
  private readonly deny: Array<{ pattern: string; rule: NumberRule }>;
  /** Start times of each user's recent calls, for the per-minute limit. */
  private readonly recent = new Map<string, number[]>();

  constructor(
    plan: NumberPlan,
    private readonly rules: OutboundRules,
    private readonly now: () => number = Date.now,
  ) {
    this.allow = rules.allow.map((r) => ({ users: anyGlob(r.users), numbers: r.numbers.map((n) => numberRule(plan, n)) }));
    this.deny = rules.deny.map((pattern) => ({ pattern, rule: numberRule(plan, pattern) }));
  }

  /** May `userId` reach `party` at all (calls and texts)? */
  check(userId: string, party: RemoteParty, ownAccount: boolean): PolicyVerdict {
    const denied = this.deny.find((d) => d.rule(party));
    if (denied) return { ok: false, reason: `${party.displayName} is on the deny list (${denied.pattern})` };
    // A user's own SIP account is theirs to pay for: only the deny list applies.
    if (ownAccount) return { ok: true };
    if (this.allow.some((a) => a.users(userId) && a.numbers.some((n) => n(party)))) return { ok: true };
    return { ok: false, reason: `you may not call or text ${party.displayName} (bridges.sip.outbound.allow)` };
  }

  /** Counts a call attempt against the user's limits; refuses it when one is reached. */
  admitCall(userId: string, activeCalls: number): PolicyVerdict {
    if (activeCalls >= this.rules.maxConcurrentCalls) {
      return { ok: false, reason: `you already have ${activeCalls} call${activeCalls === 1 ? '' : 's'} (the limit is ${this.rules.maxConcurrentCalls})` };
    }
    const now = this.now();
    const recent = (this.recent.get(userId) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= this.rules.callsPerMinute) {
      this.recent.set(userId, recent);
      return { ok: false, reason: `too many calls: at most ${this.rules.callsPerMinute} a minute` };
    }
    recent.push(now);
    this.recent.set(userId, recent);
    return { ok: true };
  }
}
