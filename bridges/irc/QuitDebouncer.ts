// Netsplits make hundreds of IRC users quit at once and come back minutes later. Mirroring each quit as
// a Matrix leave (and each return as a join) floods the homeserver (matrix-appservice-irc #1174), so a
// quit that looks like a split, or that arrives in a burst of quits, is held back; if the nick returns
// in time the leave is never sent.
import { type Clock, systemClock } from './Clock.js';

export interface QuitDebouncerOptions {
  /** How long a split-like quit is held back. 0 turns debouncing off. */
  delayMs: number;
  /** This many quits within `burstWindowMs` count as a split whatever their message. */
  burstThreshold: number;
  burstWindowMs: number;
  /** Called when a quit is final (immediately, or after the delay). */
  onLeave: (nick: string, message: string) => void;
  clock?: Clock;
}

/** ngircd, InspIRCd, Solanum and others quote the two servers on either side of the split. */
const SPLIT_MESSAGE = /^[\w.*-]+\.[\w.*-]+ [\w.*-]+\.[\w.*-]+$/;

export class QuitDebouncer {
  private readonly pending = new Map<string, { handle: unknown; nick: string; message: string }>();
  private recent: number[] = [];
  private readonly clock: Clock;

  constructor(private readonly options: QuitDebouncerOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** `key` identifies the person (folded nick); `nick` and `message` are passed on to onLeave. */
  quit(key: string, nick: string, message: string): void {
    const now = this.clock.now();
    this.recent = this.recent.filter((t) => now - t < this.options.burstWindowMs);
    this.recent.push(now);
    const splitLike = SPLIT_MESSAGE.test(message) || this.recent.length >= this.options.burstThreshold;
    if (this.options.delayMs <= 0 || !splitLike) {
      this.options.onLeave(nick, message);
      return;
    }
    this.cancel(key);
    const handle = this.clock.setTimeout(() => {
      this.pending.delete(key);
      this.options.onLeave(nick, message);
    }, this.options.delayMs);
    this.pending.set(key, { handle, nick, message });
  }

  /** The person is back: returns true when their quit was still held (so they never left Matrix). */
  returned(key: string): boolean {
    return this.cancel(key);
  }

  isPending(key: string): boolean {
    return this.pending.has(key);
  }

  /** Sends every held leave now (shutdown, or the bridge lost the network itself). */
  flush(): void {
    for (const [key, entry] of [...this.pending]) {
      this.clock.clearTimeout(entry.handle);
      this.pending.delete(key);
      this.options.onLeave(entry.nick, entry.message);
    }
  }

  /** Forgets every held leave without sending it. */
  clear(): void {
    for (const entry of this.pending.values()) this.clock.clearTimeout(entry.handle);
    this.pending.clear();
  }

  private cancel(key: string): boolean {
    const entry = this.pending.get(key);
    if (entry === undefined) return false;
    this.clock.clearTimeout(entry.handle);
    this.pending.delete(key);
    return true;
  }
}
