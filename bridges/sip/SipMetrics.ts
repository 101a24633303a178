// The SIP bridge's metrics on the host's /metrics: calls by direction and outcome, setup time, active
// calls, texts, what was refused and why, and each line's readiness (ctx.status has its state and reason).
import type { Counter, Histogram, PluginMetrics } from 'patchbay-matrix/plugin';
import type { CallMetrics } from './calls/BridgedCall.js';
import type { CallOutcome } from './calls/CallOutcomes.js';

export type RefusalReason = 'malformed' | 'too_large' | 'no_route' | 'blocked' | 'policy' | 'rate_limit' | 'encrypted' | 'bad_sdp' | 'line_down';

export class SipMetrics implements CallMetrics {
  private readonly calls: Counter<'direction' | 'outcome'>;
  private readonly setupTime: Histogram<'direction'>;
  private readonly texts: Counter<'direction' | 'outcome'>;
  private readonly refusals: Counter<'reason'>;

  constructor(metrics: PluginMetrics, sources: { activeCalls(): number; lines(): Array<{ id: string; ready: boolean }> }) {
    this.calls = metrics.counter({ name: 'patchbay_sip_calls_total', help: 'Calls that ended, by direction and outcome', labelNames: ['direction', 'outcome'] });
    this.setupTime = metrics.histogram({
      name: 'patchbay_sip_call_setup_seconds',
      help: 'From the first INVITE or m.call.invite to the answer reaching the other side',
      labelNames: ['direction'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    });
    this.texts = metrics.counter({ name: 'patchbay_sip_texts_total', help: 'Texts (SIP MESSAGE) by direction and outcome', labelNames: ['direction', 'outcome'] });
    this.refusals = metrics.counter({ name: 'patchbay_sip_refused_total', help: 'Calls, texts and SIP messages refused, by reason', labelNames: ['reason'] });
    metrics.gauge({ name: 'patchbay_sip_active_calls', help: 'Calls ringing or in progress', collect: (g) => g.set(sources.activeCalls()) });
    metrics.gauge({
      name: 'patchbay_sip_line_ready',
      help: 'Whether each line is connected (and registered, where it registers): 1 or 0',
      labelNames: ['line'],
      collect: (g) => {
        for (const l of sources.lines()) g.set({ line: l.id }, l.ready ? 1 : 0);
      },
    });
  }

  ended(direction: 'inbound' | 'outbound', outcome: CallOutcome): void {
    this.calls.inc({ direction, outcome });
  }

  setup(direction: 'inbound' | 'outbound', seconds: number): void {
    this.setupTime.observe({ direction }, seconds);
  }

  text(direction: 'inbound' | 'outbound', outcome: 'delivered' | 'failed' | 'refused'): void {
    this.texts.inc({ direction, outcome });
  }

  refused(reason: RefusalReason): void {
    this.refusals.inc({ reason });
  }
}
