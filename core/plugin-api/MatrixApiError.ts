const BRAND = Symbol.for('patchbay-matrix.MatrixApiError');

/**
 * A Client-Server API error as the homeserver reported it (or a transport failure, status 0): what an
 * Intent call rejects with. `MatrixApiError.is(err, 'M_FORBIDDEN')` and `instanceof` work for errors
 * from any copy of this package.
 */
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
    /** The spec's `retry_after_ms` of a 429 (or its Retry-After header), in milliseconds. */
    readonly retryAfterMs?: number,
  ) {
    super(`${method} ${path}: ${status || 'no response'} ${errcode}: ${reason}`);
    this.name = 'MatrixApiError';
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** Worth another try later: rate limits, server errors, lost connections. */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }

  static is(err: unknown, errcode?: string): err is MatrixApiError {
    return err instanceof MatrixApiError && (errcode === undefined || err.errcode === errcode);
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== MatrixApiError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<PropertyKey, unknown>)[BRAND] === true;
  }
}
