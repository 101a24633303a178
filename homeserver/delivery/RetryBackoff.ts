// Capped exponential backoff with jitter for the senders (appservice transactions, federation, push):
// initial, 2x, 4x ... up to max, each delay drawn from its upper half so that many peers failing together
// do not retry in step.
export class RetryBackoff {
  private failures = 0;

  constructor(private readonly options: { initialMs: number; maxMs: number }, private readonly random: () => number = Math.random) {}

  /** Records a failure and returns how long to wait before the next attempt. */
  nextDelayMs(): number {
    const ceiling = Math.min(this.options.maxMs, this.options.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  get failureCount(): number {
    return this.failures;
  }

  reset(): void {
    this.failures = 0;
  }
}
