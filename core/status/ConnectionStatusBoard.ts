import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { BridgeStatus, ConnectionReport, ConnectionState, ConnectionStatus } from '../plugin-api/index.js';
import { ConnectionStatusMetrics } from '../metrics/ConnectionStatusMetrics.js';

/** How often a process confirms what it reported; three missed confirmations make an entry stale. */
export const STATUS_HEARTBEAT_MS = 10_000;
const STALE_AFTER_MS = 3 * STATUS_HEARTBEAT_MS;
const STATES: ReadonlySet<ConnectionState> = new Set(['connecting', 'connected', 'backoff', 'failed', 'stopped']);

interface StoredStatus extends ConnectionReport {
  since: number;
  updatedAt: number;
}

/** The Redis hash of one appservice's connection states, under its key root (`patchbay:<id>`). */
export function connectionStatusKey(root: string): string {
  return `${root}:status`;
}

/** One bridge's connections as the host reports them. */
export interface BridgeConnections {
  bridge: string;
  connections: ConnectionStatus[];
}

/**
 * The bridges' connection states, in one Redis hash per appservice (field `<bridge>/<connection>`) so
 * that whichever process serves /health sees what every worker reported. Each process writes only what
 * it reported itself, and re-confirms it on a heartbeat: an entry nobody confirms any more is stale.
 */
export class ConnectionStatusBoard {
  private readonly local = new Map<string, StoredStatus>();
  private timer: NodeJS.Timeout | null = null;
  private readonly metrics: ConnectionStatusMetrics;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly logger: Logger,
    metrics: Registry,
    private readonly now: () => number = Date.now,
  ) {
    this.metrics = ConnectionStatusMetrics.for(metrics);
  }

  /** The reporter a bridge gets as ctx.status. */
  reporter(bridge: string): BridgeStatus {
    return {
      report: (connection, report) => this.report(bridge, connection, report),
      remove: (connection) => this.remove(bridge, connection),
      all: async () => (await readConnectionStatus(this.redis, this.key, this.now())).find((b) => b.bridge === bridge)?.connections ?? [],
    };
  }

  start(): void {
    this.timer ??= setInterval(() => this.confirm(), STATUS_HEARTBEAT_MS);
    this.timer.unref();
  }

  /** Stops confirming and takes this process's entries back: its bridges no longer run here. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const fields = [...this.local.keys()];
    for (const field of fields) this.metrics.forget(...splitField(field));
    this.local.clear();
    if (fields.length > 0) await this.redis.hdel(this.key, ...fields).catch((err: unknown) => this.logger.warn({ err }, 'could not clear connection status'));
  }

  private report(bridge: string, connection: string, report: ConnectionReport): void {
    if (!STATES.has(report.state)) throw new TypeError(`ctx.status.report: unknown state ${JSON.stringify(report.state)}`);
    if (connection === '' || connection.length > 200) throw new TypeError('ctx.status.report: the connection name must be 1 to 200 characters');
    const field = `${bridge}/${connection}`;
    const now = this.now();
    const before = this.local.get(field);
    const entry: StoredStatus = {
      state: report.state,
      ...(report.reason !== undefined ? { reason: report.reason } : {}),
      ...(report.detail !== undefined ? { detail: report.detail } : {}),
      since: before?.state === report.state ? before.since : now,
      updatedAt: now,
    };
    this.local.set(field, entry);
    this.metrics.set(bridge, connection, report.state);
    if (before?.state !== report.state) {
      const log = report.state === 'failed' || report.state === 'backoff' ? this.logger.warn.bind(this.logger) : this.logger.info.bind(this.logger);
      log({ bridge, connection, state: report.state, reason: report.reason, was: before?.state }, `${bridge} ${connection}: ${report.state}${report.reason ? ` (${report.reason})` : ''}`);
    }
    this.write({ [field]: JSON.stringify(entry) });
  }

  private remove(bridge: string, connection: string): void {
    const field = `${bridge}/${connection}`;
    if (!this.local.delete(field)) return;
    this.metrics.forget(bridge, connection);
    this.redis.hdel(this.key, field).catch((err: unknown) => this.logger.warn({ err, bridge, connection }, 'could not remove connection status'));
  }

  private confirm(): void {
    if (this.local.size === 0) return;
    const now = this.now();
    const fields: Record<string, string> = {};
    for (const [field, entry] of this.local) {
      entry.updatedAt = now;
      fields[field] = JSON.stringify(entry);
    }
    this.write(fields);
  }

  private write(fields: Record<string, string>): void {
    // A lost write is repaired by the next heartbeat; the bridge must never wait on Redis to report.
    this.redis.hset(this.key, fields).catch((err: unknown) => this.logger.warn({ err }, 'could not store connection status'));
  }
}

/** Every bridge's reported connections, sorted, with stale entries marked. Never throws on a bad entry. */
export async function readConnectionStatus(redis: Redis, key: string, now = Date.now()): Promise<BridgeConnections[]> {
  const raw = await redis.hgetall(key);
  const byBridge = new Map<string, ConnectionStatus[]>();
  for (const field of Object.keys(raw).sort()) {
    const [bridge, connection] = splitField(field);
    let stored: StoredStatus;
    try {
      stored = JSON.parse(raw[field]!) as StoredStatus;
    } catch {
      continue;
    }
    const list = byBridge.get(bridge) ?? [];
    list.push({ connection, ...stored, stale: now - stored.updatedAt > STALE_AFTER_MS });
    byBridge.set(bridge, list);
  }
  return [...byBridge].map(([bridge, connections]) => ({ bridge, connections }));
}

function splitField(field: string): [string, string] {
  const slash = field.indexOf('/');
  return [field.slice(0, slash), field.slice(slash + 1)];
}
