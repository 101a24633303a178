/** A Client-Server API error as the homeserver reported it (or a transport failure, status 0). */
export class MatrixApiError extends Error {
  constructor(
    /** HTTP status; 0 when no response arrived (connection refused, reset, timed out). */
    readonly status: number,
    /** The spec errcode (`M_FORBIDDEN`...), or `M_CONNECTION_FAILED` / `M_NOT_JSON` for transport problems. */
    readonly errcode: string,
    /** The homeserver's `error` text (or the transport failure), without the request line. */
    readonly reason: string,
    readonly method: string,
    readonly path: string,
    /** From a 429's `retry_after_ms` (or Retry-After header). */
    readonly retryAfterMs?: number,
  ) {
    super(`${method} ${path}: ${status || 'no response'} ${errcode}: ${reason}`);
    this.name = 'MatrixApiError';
  }

  /** Worth another try later: rate limits, server errors, lost connections. */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }

  static is(err: unknown, errcode?: string): err is MatrixApiError {
    return err instanceof MatrixApiError && (errcode === undefined || err.errcode === errcode);
  }
}
