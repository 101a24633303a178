/**
 * Where a bridge's remote connections stand (an IRC network, a SIP line, the SMTP listener), for
 * operators: the host's /health, `patchbay doctor` and /metrics show what bridges report here.
 */
export type ConnectionState = 'connecting' | 'connected' | 'backoff' | 'failed' | 'stopped';

export interface ConnectionReport {
  state: ConnectionState;
  /** Why, for anything but connected: what an operator needs to fix it ("SASL authentication failed"). */
  reason?: string;
  /** A few facts worth showing beside the state (`{ server: 'irc.libera.chat:6697', nick: 'PatchbayBot' }`). */
  detail?: Record<string, string | number | boolean>;
}

export interface ConnectionStatus extends ConnectionReport {
  connection: string;
  /** When the connection entered this state (ms since the epoch). */
  since: number;
  /** When its process last confirmed it. */
  updatedAt: number;
  /** True when the process that reported it stopped confirming it (it died, or lost Redis): the state is unknown. */
  stale: boolean;
}

export interface BridgeStatus {
  /**
   * Reports one connection's state. Cheap and synchronous: call it on every change; reporting the same
   * state again only refreshes it. The host keeps confirming what this process reported while it runs.
   */
  report(connection: string, report: ConnectionReport): void;
  /** Forgets a connection that no longer exists (a network removed from the config). */
  remove(connection: string): void;
  /** What every process running this bridge has reported, by connection name. */
  all(): Promise<ConnectionStatus[]>;
}
