import { failureKindOf, RetryLaterError } from '../plugin-api/index.js';

/**
 * What the worker does about a handler failure that is no outage (OutageClassifier is asked first):
 * `permanent`: dead-letter now; `retry-later`: wait (the delay the plugin asked for, if any) and try again
 * without spending an attempt while the event's budget lasts; `retry`: spend an attempt and try again.
 */
export type HandlerFailure = { kind: 'permanent' } | { kind: 'retry-later'; delayMs: number | undefined } | { kind: 'retry' };

/**
 * The failure of one plugin says what it is (PermanentError, RetryLaterError; IgnoredEventError never
 * gets here, the router acknowledges it). Several plugins failing together (an AggregateError) are a
 * plain failure if any of them is one; else a retry-later if any asks for one (waiting the longest delay
 * asked); else permanent.
 */
export function handlerFailureOf(err: unknown): HandlerFailure {
  const members: unknown[] = err instanceof AggregateError ? err.errors : [err];
  if (members.length === 0) return { kind: 'retry' };
  let laterDelay: number | undefined;
  let later = false;
  for (const member of members) {
    const kind = failureKindOf(member);
    if (kind === 'retry-later') {
      later = true;
      const delay = (member as RetryLaterError).delayMs;
      if (delay !== undefined) laterDelay = Math.max(laterDelay ?? 0, delay);
    } else if (kind !== 'permanent') {
      return { kind: 'retry' };
    }
  }
  return later ? { kind: 'retry-later', delayMs: laterDelay } : { kind: 'permanent' };
}
