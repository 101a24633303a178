// Runs every user's push rules once per event, inside the transaction that appends it (spec: "When
// receiving a new event homeservers process push rules for each of the local users in the room
// (excluding the sender)"), and records the events that notify. Like Synapse, users an appservice holds
// exclusively (bridge ghosts, the bridge's bot) are skipped: nobody reads their notifications, and a
// bridged channel of thousands of ghosts then costs only its real users. Who is left per room is
// remembered until the room's membership changes.
import { LRUCache } from 'lru-cache';
import type { EventIndexer, EventStore } from '../events/EventStore.js';
import type { StoredEvent } from '../events/StoredEvent.js';
import type { RelationStore } from '../relations/RelationStore.js';
import { PowerLevels } from '../rooms/PowerLevels.js';
import type { PushActionStore } from './PushActionStore.js';
import type { PushTarget } from './PushRuleEvaluator.js';
import type { PushRuleStore } from './PushRuleStore.js';

export interface PushActionRecorderDeps {
  events: EventStore;
  relations: RelationStore;
  rules: PushRuleStore;
  actions: PushActionStore;
  /** True for users no one reads notifications of: an appservice's sender and exclusive namespaces. */
  isAppserviceUser: (userId: string) => boolean;
  /** A registered user of this server. */
  isLocalUser: (userId: string) => boolean;
}

export class PushActionRecorder implements EventIndexer {
  private readonly recipients = new LRUCache<string, string[]>({ max: 10_000 });
  /** Users who got a notification since the last takeNotified(). */
  private notified = new Set<string>();

  constructor(private readonly d: PushActionRecorderDeps) {}

  appended(ev: StoredEvent): void {
    if (ev.type === 'm.room.member') this.recipients.delete(ev.room_id);
    const users = this.usersFor(ev);
    if (users.length === 0) return;
    const target = this.target(ev);
    let threadId: string | null = null;
    for (const userId of users) {
      const decision = this.d.rules.compiled(userId).evaluate(target(userId));
      if (!decision?.notify) continue;
      threadId ??= this.d.relations.threadOf(ev.event_id);
      this.d.actions.add({
        user_id: userId,
        room_id: ev.room_id,
        pos: ev.pos,
        event_id: ev.event_id,
        thread_id: threadId,
        actions: decision.actions,
        highlight: decision.highlight,
        ts: ev.origin_server_ts,
      });
      this.notified.add(userId);
    }
  }

  redacted(ev: StoredEvent): void {
    this.d.actions.removeEvent(ev.event_id);
  }

  /** Users notified since the last call (after a commit: whose pushers have work). */
  takeNotified(): Set<string> {
    const out = this.notified;
    this.notified = new Set();
    return out;
  }

  /** Forget who may be notified in each room (an appservice reload may change whose users are whose). */
  forgetRecipients(): void {
    this.recipients.clear();
  }

  private usersFor(ev: StoredEvent): string[] {
    let joined = this.recipients.get(ev.room_id);
    if (!joined) {
      joined = this.d.events
        .members(ev.room_id, 'join')
        .map((m) => m.user_id)
        .filter((u) => !this.d.isAppserviceUser(u));
      this.recipients.set(ev.room_id, joined);
    }
    const users = joined.filter((u) => u !== ev.sender);
    // The invited user is not in the room yet, and is who .m.rule.invite_for_me is for.
    const invitee = ev.type === 'm.room.member' && ev.content['membership'] === 'invite' ? ev.state_key : null;
    if (invitee && invitee !== ev.sender && !users.includes(invitee) && !this.d.isAppserviceUser(invitee) && this.d.isLocalUser(invitee)) {
      users.push(invitee);
    }
    return users;
  }

  /** The event as rules see it, and room facts computed once per event, when a rule first asks. */
  private target(ev: StoredEvent): (userId: string) => PushTarget {
    const event: Record<string, unknown> = {
      event_id: ev.event_id,
      room_id: ev.room_id,
      sender: ev.sender,
      type: ev.type,
      content: ev.content,
      origin_server_ts: ev.origin_server_ts,
    };
    if (ev.state_key !== null) event['state_key'] = ev.state_key;
    let memberCount: number | null = null;
    let levels: PowerLevels | null = null;
    const powerLevels = (): PowerLevels => {
      if (!levels) {
        const room = this.d.events.room(ev.room_id);
        levels = PowerLevels.of(this.d.events.liveState(ev.room_id), room?.room_version ?? '10');
      }
      return levels;
    };
    return (userId) => ({
      event,
      roomMemberCount: () => (memberCount ??= this.d.events.joinedCount(ev.room_id)),
      displayName: () => {
        const name = this.d.events.stateEvent(ev.room_id, 'm.room.member', userId)?.content['displayname'];
        return typeof name === 'string' && name.length > 0 ? name : null;
      },
      senderMayNotify: (key) => powerLevels().userLevel(ev.sender) >= powerLevels().notificationLevel(key),
    });
  }
}
