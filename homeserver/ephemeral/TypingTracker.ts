// Who is typing in which room, with the timeouts clients ask for (capped). Changes are announced through
// onChange so /sync wakes and appservices hear about them.
import type { EphemeralCounter } from './EphemeralCounter.js';

const MAX_TIMEOUT_MS = 120_000;
const DEFAULT_TIMEOUT_MS = 30_000;

interface RoomTyping {
  users: Map<string, NodeJS.Timeout>;
  serial: number;
}

/** The room's typing users after a change, and the change itself (federation sends one user's change). */
export type TypingListener = (roomId: string, userIds: string[], change: { userId: string; typing: boolean }) => void;

export class TypingTracker {
  private readonly rooms = new Map<string, RoomTyping>();
  private readonly listeners = new Set<TypingListener>();

  constructor(private readonly counter: EphemeralCounter) {}

  onChange(listener: TypingListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  set(roomId: string, userId: string, typing: boolean, timeoutMs?: number): void {
    let room = this.rooms.get(roomId);
    const wasTyping = room?.users.has(userId) ?? false;
    if (room) {
      const t = room.users.get(userId);
      if (t) clearTimeout(t);
    }
    if (typing) {
      if (!room) {
        room = { users: new Map(), serial: 0 };
        this.rooms.set(roomId, room);
      }
      const ms = Math.min(Math.max(timeoutMs ?? DEFAULT_TIMEOUT_MS, 0), MAX_TIMEOUT_MS);
      const timer = setTimeout(() => this.set(roomId, userId, false), ms);
      timer.unref();
      room.users.set(userId, timer);
      // Refreshing the timeout of someone already typing changes nothing clients can see.
      if (!wasTyping) this.changed(roomId, room, { userId, typing: true });
    } else if (room && wasTyping) {
      room.users.delete(userId);
      this.changed(roomId, room, { userId, typing: false });
    }
  }

  /** The typing users if the room changed after `since` (0: always). */
  changedSince(roomId: string, since: number): string[] | null {
    const room = this.rooms.get(roomId);
    if (!room || room.serial <= since) return null;
    return [...room.users.keys()];
  }

  typingIn(roomId: string): string[] {
    return [...(this.rooms.get(roomId)?.users.keys() ?? [])];
  }

  stop(): void {
    for (const room of this.rooms.values()) for (const t of room.users.values()) clearTimeout(t);
    this.rooms.clear();
  }

  private changed(roomId: string, room: RoomTyping, change: { userId: string; typing: boolean }): void {
    room.serial = this.counter.next();
    const users = [...room.users.keys()];
    // The room entry stays even when empty: its serial tells a client that saw someone typing that they stopped.
    for (const l of [...this.listeners]) l(roomId, users, change);
  }
}
