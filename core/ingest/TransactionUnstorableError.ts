/**
 * Storing the transaction failed because of what it holds, not because Redis is away: the JavaScript
 * engine refused to process it (a RangeError such as a stack overflow while serialising it, a
 * TypeError). Sending it again would fail the same way, so it is answered 400, not 503.
 */
export class TransactionUnstorableError extends Error {
  constructor(cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`the transaction cannot be stored (${reason})`, { cause });
    this.name = 'TransactionUnstorableError';
  }

  /** Errors the engine raises about data; ioredis and Redis raise other kinds (Error, ReplyError, ...). */
  static isCausedBy(err: unknown): boolean {
    // By name, not instanceof: errors made in another realm (vm, jest) are not this realm's RangeError.
    const name = typeof err === 'object' && err !== null ? (err as { name?: unknown }).name : undefined;
    return name === 'RangeError' || name === 'TypeError' || name === 'SyntaxError' || name === 'URIError';
  }
}
