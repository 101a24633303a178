// Group commit of one fsync (the spool's folder): mails that commit at the same time share a sync instead
// of each waiting for its own. A fsync covers only what happened before it started, so a caller that
// arrives while one is running waits for the next one, which starts as soon as the running one ends and
// covers everybody who arrived meanwhile.
export class GroupSync {
  private running: Promise<void> | null = null;
  private next: Promise<void> | null = null;

  constructor(private readonly syncOnce: () => Promise<void>) {}

  /** Resolves once a sync that started after this call has finished; rejects if that sync failed. */
  sync(): Promise<void> {
    if (this.running === null) return this.start();
    this.next ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.next = null;
        return this.start();
      });
    return this.next;
  }

  private start(): Promise<void> {
    const run: Promise<void> = this.syncOnce().finally(() => {
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }
}
