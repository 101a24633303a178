// A user's unread notifications: the push rules' recorded decisions after what the user has read. Read
// means their read receipts (public or private; threaded ones per thread), their own newest message in
// the room, and their join (nothing from before it counts). /sync shows these per room and thread, and
// the push gateway gets their sum as the badge count.
import type { ReceiptStore } from '../ephemeral/ReceiptStore.js';
import type { EventStore } from '../events/EventStore.js';
import type { PushActionStore, UnreadCounts } from './PushActionStore.js';

export class UnreadCounter {
  constructor(
    private readonly receipts: ReceiptStore,
    private readonly events: EventStore,
    private readonly actions: PushActionStore,
  ) {}

  /** Counts of one room the user is in; `membershipPos` is where their membership event is. */
  room(userId: string, roomId: string, membershipPos: number): UnreadCounts {
    const receipts = this.receipts.readPositions(roomId, userId);
    const base = Math.max(receipts.unthreaded, this.events.lastOwnEventPos(roomId, userId), membershipPos);
    return this.actions.unreadCounts(userId, roomId, { base, threads: receipts.threads });
  }

  /** Unread notifications in all rooms the user is joined to (the badge on a phone). */
  total(userId: string): number {
    let n = 0;
    for (const roomId of this.actions.roomsWithRows(userId)) {
      const m = this.events.membership(roomId, userId);
      if (m?.membership !== 'join') continue;
      const c = this.room(userId, roomId, m.pos);
      n += c.main.notifications;
      for (const t of c.threads.values()) n += t.notifications;
    }
    return n;
  }
}
