// The EventStream contract the appservice side reads: the events table in stream order, plus the room
// facts it needs to decide which appservice is interested in an event.
import type { ClientEvent, EventStream, StrippedStateEvent } from '../contracts.js';
import { parseId } from '../ids/MatrixIds.js';
import type { RoomDirectory } from '../rooms/RoomDirectory.js';
import type { ClientEventFormatter } from './ClientEventFormatter.js';
import type { EventStore } from './EventStore.js';
import { strippedState } from './StrippedState.js';

export class RoomEventStream implements EventStream {
  constructor(
    private readonly serverName: string,
    private readonly events: EventStore,
    private readonly directory: RoomDirectory,
    private readonly formatter: ClientEventFormatter,
  ) {}

  head(): number {
    return this.events.head();
  }

  readAfter(after: number, limit: number): Array<{ pos: number; event: ClientEvent }> {
    return this.events.eventsAfter(after, limit).map((e) => ({ pos: e.pos, event: this.formatter.format(e) }));
  }

  onAppend(listener: () => void): () => void {
    return this.events.onAppend(() => listener());
  }

  joinedLocalMembers(roomId: string): string[] {
    return this.events
      .members(roomId, 'join')
      .map((m) => m.user_id)
      .filter((u) => parseId(u, '@')?.server === this.serverName);
  }

  aliasesOf(roomId: string): string[] {
    const aliases = new Set(this.directory.aliasesOf(roomId));
    const canonical = this.events.stateEvent(roomId, 'm.room.canonical_alias', '')?.content;
    if (canonical) {
      if (typeof canonical['alias'] === 'string') aliases.add(canonical['alias']);
      const alt = canonical['alt_aliases'];
      if (Array.isArray(alt)) for (const a of alt) if (typeof a === 'string') aliases.add(a);
    }
    return [...aliases];
  }

  strippedState(roomId: string): StrippedStateEvent[] {
    return strippedState(this.events, roomId);
  }
}
