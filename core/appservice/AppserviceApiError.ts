/** An error the AS API answers with: `{errcode, error}` and an HTTP status, as the spec's error schema. */
export class AppserviceApiError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
    /** Label for the rejected-transactions metric. */
    readonly reason: string = errcode.toLowerCase(),
  ) {
    super(message);
    this.name = 'AppserviceApiError';
  }

  toJSON(): { errcode: string; error: string } {
    return { errcode: this.errcode, error: this.message };
  }
}
