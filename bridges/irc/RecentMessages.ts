// What recent messages said and who said them, by Matrix event id or IRC message id, so replies can
// quote and edits can be sent as corrections without asking the homeserver. Bounded (oldest forgotten
// first); after a restart the bridge reads the original event from the homeserver instead.
export interface RecentMessage {
  nick: string;
  text: string;
}

export class RecentMessages<V = RecentMessage> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly capacity = 5000) {}

  set(id: string, message: V): void {
    this.entries.delete(id);
    this.entries.set(id, message);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }

  delete(id: string): void {
    this.entries.delete(id);
  }

  get(id: string): V | undefined {
    return this.entries.get(id);
  }
}
