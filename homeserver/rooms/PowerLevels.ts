// Reads m.room.power_levels with the spec's defaults, including the room without one yet.
import { creatorOf } from './RoomVersions.js';
import type { RoomStateView } from './RoomStateView.js';

function level(v: unknown, fallback: number): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  // Older rooms may hold string levels; versions 10+ reject them on write, so this is only for reads.
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v.trim());
  return fallback;
}

function obj(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export class PowerLevels {
  private constructor(
    private readonly content: Record<string, unknown> | null,
    private readonly creator: string | null,
  ) {}

  static of(state: RoomStateView, roomVersion: string): PowerLevels {
    const pl = state.get('m.room.power_levels', '');
    const create = state.get('m.room.create', '');
    return new PowerLevels(pl ? pl.content : null, create ? creatorOf(roomVersion, create) : null);
  }

  /** The raw content (or null), for change checks. */
  get raw(): Record<string, unknown> | null {
    return this.content;
  }

  userLevel(userId: string): number {
    if (!this.content) return userId === this.creator ? 100 : 0;
    const users = obj(this.content['users']);
    if (userId in users) return level(users[userId], 0);
    return level(this.content['users_default'], 0);
  }

  /** The level needed to send an event of this type (state or not). */
  eventLevel(type: string, isState: boolean): number {
    if (!this.content) return 0;
    const events = obj(this.content['events']);
    if (type in events) return level(events[type], 0);
    return isState ? level(this.content['state_default'], 50) : level(this.content['events_default'], 0);
  }

  get ban(): number {
    return this.content ? level(this.content['ban'], 50) : 50;
  }
  get kick(): number {
    return this.content ? level(this.content['kick'], 50) : 50;
  }
  get redact(): number {
    return this.content ? level(this.content['redact'], 50) : 50;
  }
  get invite(): number {
    return this.content ? level(this.content['invite'], 0) : 0;
  }
  /** notifications.room: who may @room. */
  get roomNotification(): number {
    return this.notificationLevel('room');
  }
  /** notifications[key], 50 when unset (push rules' sender_notification_permission). */
  notificationLevel(key: string): number {
    return this.content ? level(obj(this.content['notifications'])[key], 50) : 50;
  }
}
