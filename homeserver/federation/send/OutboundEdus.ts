// The EDUs this server's users cause, turned into federation EDUs for the servers that must hear them:
// typing and public read receipts to the servers of the room's joined members, presence to the servers
// sharing a room with the user, to-device messages to the recipient's server. Only this server's users are
// announced (what remote users do is theirs to send). A room without remote members queues nothing.
import { randomBytes } from 'node:crypto';
import type { FederationSender } from './FederationSender.js';
import { serverOf } from './RoomDestinations.js';

export interface ReceiptUpdate {
  roomId: string;
  userId: string;
  receiptType: string;
  threadId: string;
  eventId: string;
  ts: number;
}

export class OutboundEdus {
  constructor(
    private readonly sender: FederationSender,
    private readonly ownServer: string,
  ) {}

  typing(roomId: string, userId: string, typing: boolean): void {
    if (!this.isLocal(userId)) return;
    const destinations = this.sender.destinations.ofRoom(roomId);
    if (destinations.length === 0) return;
    // The newest state per user and room is all a peer needs: a waiting older one is replaced.
    this.sender.enqueueEdus(destinations, { edu_type: 'm.typing', content: { room_id: roomId, user_id: userId, typing } }, `typing ${roomId} ${userId}`);
  }

  /** Public read receipts only: m.read.private stays on this server, as the spec says. */
  receipt(r: ReceiptUpdate): void {
    if (r.receiptType !== 'm.read' || !this.isLocal(r.userId)) return;
    const destinations = this.sender.destinations.ofRoom(r.roomId);
    if (destinations.length === 0) return;
    const data: Record<string, unknown> = { ts: r.ts };
    if (r.threadId !== '') data['thread_id'] = r.threadId;
    const content = { [r.roomId]: { 'm.read': { [r.userId]: { event_ids: [r.eventId], data } } } };
    this.sender.enqueueEdus(destinations, { edu_type: 'm.receipt', content }, `receipt ${r.roomId} ${r.userId} ${r.threadId}`);
  }

  /** `content` is the m.presence content clients see (user_id, presence, last_active_ago, ...). */
  presence(userId: string, content: Record<string, unknown>): void {
    if (!this.isLocal(userId)) return;
    const destinations = this.sender.destinations.sharingRoomWith(userId);
    if (destinations.length === 0) return;
    this.sender.enqueueEdus(destinations, { edu_type: 'm.presence', content: { push: [content] } }, `presence ${userId}`);
  }

  /** Send-to-device messages for remote users (device id or '*'), one m.direct_to_device EDU per server. */
  toDevice(sender: string, type: string, messages: Record<string, Record<string, Record<string, unknown>>>): void {
    const byServer = new Map<string, Record<string, Record<string, Record<string, unknown>>>>();
    for (const [userId, byDevice] of Object.entries(messages)) {
      if (this.isLocal(userId)) continue;
      const server = serverOf(userId);
      let forServer = byServer.get(server);
      if (!forServer) {
        forServer = {};
        byServer.set(server, forServer);
      }
      forServer[userId] = byDevice;
    }
    for (const [server, forServer] of byServer) {
      const content = { sender, type, message_id: randomBytes(12).toString('base64url'), messages: forServer };
      this.sender.enqueueEdu(server, { edu_type: 'm.direct_to_device', content });
    }
  }

  private isLocal(userId: string): boolean {
    return serverOf(userId) === this.ownServer;
  }
}
