/** The transaction could not be stored (Redis down or too slow): the homeserver must retry it. */
export class StoreUnavailableError extends Error {
  constructor(cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`could not store the transaction durably (${reason}); retry later`, { cause });
    this.name = 'StoreUnavailableError';
  }
}
