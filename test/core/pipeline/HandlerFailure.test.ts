import { describe, expect, it } from '@jest/globals';
import { failureKindOf, IgnoredEventError, PermanentError, RetryLaterError } from '../../../core/plugin-api/index.js';
import { handlerFailureOf } from '../../../core/queue/HandlerFailure.js';

/** An error as another copy of the package makes it: same brand, a class this process never loaded. */
function fromOtherCopy(kind: string, message: string): Error {
  const err = new (class PermanentError extends Error {})(message);
  Object.defineProperty(err, Symbol.for('patchbay-matrix.PluginError'), { value: kind });
  return err;
}

describe('what a handler failure makes the worker do', () => {
  it('tells the plugin errors apart, also from another copy of the package', () => {
    expect(handlerFailureOf(new PermanentError('no'))).toEqual({ kind: 'permanent' });
    expect(handlerFailureOf(new RetryLaterError('busy', { delayMs: 200 }))).toEqual({ kind: 'retry-later', delayMs: 200 });
    expect(handlerFailureOf(new RetryLaterError('busy'))).toEqual({ kind: 'retry-later', delayMs: undefined });
    expect(handlerFailureOf(new Error('boom'))).toEqual({ kind: 'retry' });
    const foreign = fromOtherCopy('permanent', 'no');
    expect(handlerFailureOf(foreign)).toEqual({ kind: 'permanent' });
    expect(foreign instanceof PermanentError).toBe(true);
    expect(foreign instanceof RetryLaterError).toBe(false);
    expect(failureKindOf(new IgnoredEventError('x'))).toBe('ignored');
  });

  it('keeps instanceof exact for a plugin\'s own subclasses', () => {
    class NumberNotAllowed extends PermanentError {}
    expect(new NumberNotAllowed('x') instanceof PermanentError).toBe(true);
    expect(new PermanentError('x') instanceof NumberNotAllowed).toBe(false);
  });

  it('judges several bridges failing together by the weakest claim', () => {
    const both = (...errors: unknown[]) => handlerFailureOf(new AggregateError(errors, 'several'));
    expect(both(new PermanentError('a'), new Error('b'))).toEqual({ kind: 'retry' });
    expect(both(new PermanentError('a'), new RetryLaterError('b', { delayMs: 10 }), new RetryLaterError('c', { delayMs: 30 }))).toEqual({ kind: 'retry-later', delayMs: 30 });
    expect(both(new PermanentError('a'), new PermanentError('b'))).toEqual({ kind: 'permanent' });
  });
});
