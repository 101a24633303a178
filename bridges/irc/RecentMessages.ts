// What recent messages said and who said them, by Matrix event id or IRC message id, so replies can
// quote and edits can be sent as corrections. Bounded (oldest forgotten first); after a restart the
// bridge falls back to less precise replies and full-text corrections.
export interface RecentMessage {
  nick: string;
  text: string;
}

export class RecentMessages {
  private readonly entries = new Map<string, RecentMessage>();

  constructor(private readonly capacity = 5000) {}

  set(id: string, message: RecentMessage): void {
    this.entries.delete(id);
    this.entries.set(id, message);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }

  delete(id: string): void {
    this.entries.delete(id);
  }

  get(id: string): RecentMessage | undefined {
    return this.entries.get(id);
  }
}
