// What a plugin throws to say what the host should do with an event it could not bridge. Anything else it
// throws means "retry this event" (later events of the room wait), up to host.handler_attempts tries.
//
// The host recognises these by a brand, not by class identity: a plugin installed with its own copy of
// this package throws classes the host never loaded, and `instanceof` still answers for them.

const BRAND = Symbol.for('patchbay-matrix.PluginError');

/** What the host does with the event: dead-letter it now, acknowledge it, or try it again later. */
export type FailureKind = 'permanent' | 'ignored' | 'retry-later';

/** The kind of a plugin error (from any copy of this package), or null for any other error. */
export function failureKindOf(err: unknown): FailureKind | null {
  if (typeof err !== 'object' || err === null) return null;
  const kind = (err as Record<PropertyKey, unknown>)[BRAND];
  return kind === 'permanent' || kind === 'ignored' || kind === 'retry-later' ? kind : null;
}

/** `instanceof` for a base class by brand; a plugin's own subclasses keep the usual prototype check. */
function hasInstance(base: abstract new (...args: never[]) => unknown, kind: FailureKind) {
  return function (this: unknown, value: unknown): boolean {
    if (this === base) return failureKindOf(value) === kind;
    return Function.prototype[Symbol.hasInstance].call(this, value);
  };
}

/**
 * The event can never be bridged: it is dead-lettered at once, without further tries, and the room is
 * told with this error's message ("number not allowed: +1900...", "attachments over 5 MB are refused").
 * Write the message for the people in the room. `notice: false` records it without telling the room.
 */
export class PermanentError extends Error {
  /** False: dead-letter without a notice in the room. */
  readonly notice: boolean;

  constructor(message: string, options: { notice?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PermanentError';
    this.notice = options.notice ?? true;
    Object.defineProperty(this, BRAND, { value: 'permanent' });
  }

  static override [Symbol.hasInstance] = hasInstance(PermanentError, 'permanent');
}

/**
 * The bridge does not carry this event and that is fine (a reaction on a network without reactions, a
 * message of a user who opted out): it is acknowledged, never retried, and counted in
 * `patchbay_plugin_events_total{outcome="ignored"}`. The message goes to the debug log.
 */
export class IgnoredEventError extends Error {

  constructor(message: string) {
    super(message);
    this.name = 'IgnoredEventError';
    Object.defineProperty(this, BRAND, { value: 'ignored' });
  }

  static override [Symbol.hasInstance] = hasInstance(IgnoredEventError, 'ignored');
}

/**
 * Not now, but later (the remote side is rate-limiting or briefly down): the host waits `delayMs` (or its
 * own backoff) and tries the same event again without spending one of its handler_attempts, within
 * host.retry_later_budget_ms per event; past that budget each retry counts as a failed try. The room's
 * later events wait meanwhile, so keep delays short.
 */
export class RetryLaterError extends Error {
  /** How long to wait before the next try (ms); undefined: the host's backoff. */
  readonly delayMs: number | undefined;

  constructor(message: string, options: { delayMs?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RetryLaterError';
    const delay = options.delayMs;
    this.delayMs = delay !== undefined && Number.isFinite(delay) && delay >= 0 ? delay : undefined;
    Object.defineProperty(this, BRAND, { value: 'retry-later' });
  }

  static override [Symbol.hasInstance] = hasInstance(RetryLaterError, 'retry-later');
}
