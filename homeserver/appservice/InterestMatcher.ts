// Which events and ephemeral updates an appservice is interested in (spec, AS API "Homeserver -> AS":
// the sender or a member event's state_key in its users namespace or its own sender, the room id in
// its rooms namespace, an alias of the room in its aliases namespace, or a local joined member in its
// users namespace). Room lookups are cached for one transaction build, since a batch of 100 events
// usually touches few rooms.
import type { ClientEvent, EphemeralEvent, EventStream } from '../contracts.js';
import { coversUser, type Appservice } from './Appservice.js';

type RoomLookups = Pick<EventStream, 'joinedLocalMembers' | 'aliasesOf'>;

export class InterestMatcher {
  private readonly members = new Map<string, string[]>();
  private readonly aliases = new Map<string, string[]>();

  /** One matcher per build: its caches must not outlive the room state they were read from. */
  constructor(private readonly rooms: RoomLookups) {}

  inEvent(appservice: Appservice, event: ClientEvent): boolean {
    if (coversUser(appservice, event.sender)) return true;
    if (event.type === 'm.room.member' && typeof event.state_key === 'string' && coversUser(appservice, event.state_key)) {
      return true;
    }
    return this.inRoom(appservice, event.room_id);
  }

  inRoom(appservice: Appservice, roomId: string): boolean {
    if (appservice.namespaces.matchRoom(roomId) !== null) return true;
    if (this.aliasesOf(roomId).some((alias) => appservice.namespaces.matchAlias(alias) !== null)) return true;
    return this.membersOf(roomId).some((userId) => coversUser(appservice, userId));
  }

  /**
   * The ephemeral event as this appservice should receive it, or null when it is not interested.
   * Private read receipts are kept only for the appservice's own users (spec: `m.read.private`).
   */
  ephemeralFor(appservice: Appservice, event: EphemeralEvent): EphemeralEvent | null {
    if (event.type === 'm.presence') {
      const userId = event.sender ?? (typeof event.content['user_id'] === 'string' ? event.content['user_id'] : undefined);
      return userId !== undefined && coversUser(appservice, userId) ? event : null;
    }
    if (event.room_id === undefined || !this.inRoom(appservice, event.room_id)) return null;
    if (event.type === 'm.receipt') {
      const content = withoutForeignPrivateReceipts(appservice, event.content);
      return content === null ? null : { ...event, content };
    }
    return event;
  }

  private membersOf(roomId: string): string[] {
    let m = this.members.get(roomId);
    if (!m) this.members.set(roomId, (m = this.rooms.joinedLocalMembers(roomId)));
    return m;
  }

  private aliasesOf(roomId: string): string[] {
    let a = this.aliases.get(roomId);
    if (!a) this.aliases.set(roomId, (a = this.rooms.aliasesOf(roomId)));
    return a;
  }
}

/** Receipt content `{eventId: {receiptType: {userId: data}}}` minus other users' private receipts; null if empty. */
function withoutForeignPrivateReceipts(
  appservice: Appservice,
  content: Record<string, unknown>,
): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  for (const [eventId, byType] of Object.entries(content)) {
    if (!isRecord(byType)) continue;
    const keptTypes: Record<string, unknown> = {};
    for (const [receiptType, byUser] of Object.entries(byType)) {
      if (receiptType !== 'm.read.private') {
        keptTypes[receiptType] = byUser;
        continue;
      }
      if (!isRecord(byUser)) continue;
      const ownUsers = Object.fromEntries(Object.entries(byUser).filter(([userId]) => coversUser(appservice, userId)));
      if (Object.keys(ownUsers).length > 0) keptTypes[receiptType] = ownUsers;
    }
    if (Object.keys(keptTypes).length > 0) out[eventId] = keptTypes;
  }
  return Object.keys(out).length > 0 ? out : null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
