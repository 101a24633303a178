// How each IRC network's bot connection reaches operators: its state goes to ctx.status (so /health,
// `patchbay doctor`, /metrics and the status page show it) with what went wrong and what to fix, and the
// admin rooms are told once when a network is down (given up, or still failing after a few tries), not
// at every reconnect, and once more when it is back. The "told" mark lives in the plugin store, so a
// restart or a second worker does not tell again.
import type { BridgeStatus, ConnectionReport, Logger, PluginStore } from 'patchbay-matrix/plugin';
import { fixFor } from './IrcConnectionFailure.js';
import type { BotStatus } from './IrcNetwork.js';

/** Failed attempts in a row after which a network that keeps retrying counts as down for the admin rooms. */
const DOWN_AFTER_ATTEMPTS = 3;
const TOLD_TTL_SECONDS = 30 * 86400;

export interface NetworkHealthOptions {
  status: BridgeStatus;
  store: PluginStore;
  logger: Logger;
  /** The rooms to tell: every user's admin room. */
  adminRooms(): string[];
  tell(roomId: string, text: string): Promise<void>;
  /** The network's display name and address, for the reports. */
  describe(network: string): { name: string; server: string };
}

export class NetworkHealth {
  /** Notices of one network go out one after another, so "back" never overtakes "down". */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly options: NetworkHealthOptions) {}

  update(s: BotStatus): void {
    const report = this.reportOf(s);
    if (report === null) return;
    this.options.status.report(s.network, report);
    const down = s.state === 'failed' || (s.attempts >= DOWN_AFTER_ATTEMPTS && (s.state === 'backoff' || s.state === 'connecting'));
    if (down) this.chain(s.network, () => this.tellDown(s.network, s.state === 'failed', report.reason ?? ''));
    else if (s.state === 'registered') this.chain(s.network, () => this.tellBack(s.network));
  }

  private reportOf(s: BotStatus): ConnectionReport | null {
    const { server } = this.options.describe(s.network);
    const detail = { server, nick: s.nick, attempts: s.attempts };
    const reason = s.problem === null ? undefined : withFix(s.problem.text, fixFor(s.problem.kind, `bridges.irc.networks.${s.network}`));
    switch (s.state) {
      case 'idle':
        return null;
      case 'connecting':
        // A retry after failures is still the same outage, not a fresh start.
        return s.attempts > 0 ? { state: 'backoff', ...(reason !== undefined && { reason }), detail } : { state: 'connecting', detail };
      case 'registered':
        return { state: 'connected', detail };
      case 'backoff':
      case 'failed':
        return { state: s.state, ...(reason !== undefined && { reason }), detail };
      case 'stopped':
        return { state: 'stopped', detail };
    }
  }

  private async tellDown(network: string, gaveUp: boolean, reason: string): Promise<void> {
    if (!(await this.options.store.setIfAbsent(toldKey(network), reason, TOLD_TTL_SECONDS))) return;
    const { name } = this.options.describe(network);
    const what = gaveUp
      ? 'The bridge has given up connecting (it tries again at the next restart).'
      : 'The bridge keeps trying; messages wait and are sent when it is back.';
    await this.tellAll(`IRC network ${name} is down: ${reason}. ${what}`);
  }

  private async tellBack(network: string): Promise<void> {
    if ((await this.options.store.get(toldKey(network))) === null) return;
    await this.options.store.delete(toldKey(network));
    await this.tellAll(`IRC network ${this.options.describe(network).name} is connected again.`);
  }

  private async tellAll(text: string): Promise<void> {
    await Promise.all(this.options.adminRooms().map((roomId) => this.options.tell(roomId, text)));
  }

  private chain(network: string, task: () => Promise<void>): void {
    const next = (this.chains.get(network) ?? Promise.resolve())
      .then(task)
      .catch((err: unknown) => this.options.logger.warn({ err, irc_network: network }, 'could not tell the admin rooms about an IRC network'));
    this.chains.set(network, next);
  }
}

function toldKey(network: string): string {
  return `outage-told/${network}`;
}

function withFix(text: string, fix: string | null): string {
  return fix === null ? text : `${text}. Fix: ${fix}`;
}
