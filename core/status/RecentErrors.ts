/** One warning or error this process logged, as the status page shows it. */
export interface RecentError {
  /** Milliseconds since the epoch. */
  time: number;
  level: 'warn' | 'error' | 'fatal';
  msg: string;
  /** The error's message, when the entry carried one (`err`). */
  error?: string;
  /** Where it happened, when the entry said (bridge, irc_network, room_id, event_id, component). */
  context: Record<string, string>;
}

const LEVELS: Record<number, RecentError['level']> = { 40: 'warn', 50: 'error', 60: 'fatal' };
const CONTEXT_KEYS = ['component', 'bridge', 'connection', 'irc_network', 'room_id', 'event_id'];

/**
 * The last warnings and errors of this process, newest last: a pino destination (a stream of JSON lines)
 * the root logger writes to beside stdout, read by the status page. Bounded, so a flood costs nothing.
 */
export class RecentErrors {
  private readonly entries: RecentError[] = [];

  constructor(private readonly capacity = 50) {}

  /** pino's destination interface: one JSON line per call. Lines below warn are ignored. */
  write(line: string): void {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const level = LEVELS[Number(entry.level)];
    if (level === undefined) return;
    const context: Record<string, string> = {};
    for (const key of CONTEXT_KEYS) if (typeof entry[key] === 'string') context[key] = entry[key];
    const err = entry.err as { message?: unknown } | undefined;
    this.entries.push({
      time: typeof entry.time === 'number' ? entry.time : Date.now(),
      level,
      msg: typeof entry.msg === 'string' ? entry.msg : '',
      ...(typeof err?.message === 'string' && { error: err.message }),
      context,
    });
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  /** Newest first. */
  list(): RecentError[] {
    return [...this.entries].reverse();
  }
}
