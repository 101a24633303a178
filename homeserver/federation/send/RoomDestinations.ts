// Which servers must hear about something: the servers of a room's joined members (for its PDUs, typing
// and receipts), or of everyone who shares a joined room with a user (presence), never this server itself.
// Read from the memberships table; a server name is what follows the first ':' of a user ID. A server the
// room's m.room.server_acl denies is never a destination of the room's events, typing or receipts.
import type { SqlDatabase } from '../../storage/SqlDatabase.js';
import { ServerAcl } from '../acl/ServerAcl.js';

const SERVER_OF = "substr(user_id, instr(user_id, ':') + 1)";

export class RoomDestinations {
  private readonly s;

  constructor(
    db: SqlDatabase,
    private readonly ownServer: string,
  ) {
    this.s = {
      ofRoom: db.prepare(
        `SELECT DISTINCT ${SERVER_OF} AS server FROM memberships WHERE room_id = ? AND membership = 'join' AND ${SERVER_OF} != ?`,
      ),
      ofUser: db.prepare(
        `SELECT DISTINCT substr(b.user_id, instr(b.user_id, ':') + 1) AS server
         FROM memberships a JOIN memberships b ON b.room_id = a.room_id AND b.membership = 'join'
         WHERE a.user_id = ? AND a.membership = 'join' AND substr(b.user_id, instr(b.user_id, ':') + 1) != ?`,
      ),
      acl: db.prepare(
        `SELECT e.content FROM room_state s JOIN events e ON e.event_id = s.event_id
         WHERE s.room_id = ? AND s.type = 'm.room.server_acl' AND s.state_key = ''`,
      ),
    };
  }

  /** The other servers with a joined member in the room that its server ACL allows, sorted. */
  ofRoom(roomId: string): string[] {
    return this.allowedIn(roomId, (this.s.ofRoom.all(roomId, this.ownServer) as Array<{ server: string }>).map((r) => r.server)).sort();
  }

  /** The servers the room's current server ACL allows (all of them when it has none). */
  allowedIn(roomId: string, servers: string[]): string[] {
    const row = this.s.acl.get(roomId) as { content: string } | undefined;
    if (!row) return servers;
    const acl = ServerAcl.fromContent(JSON.parse(row.content) as unknown);
    return servers.filter((s) => acl.allows(s));
  }

  /** The other servers sharing a joined room with the user, sorted. */
  sharingRoomWith(userId: string): string[] {
    return (this.s.ofUser.all(userId, this.ownServer) as Array<{ server: string }>).map((r) => r.server).sort();
  }
}

/** The server part of a user ID (`@alice:example.org:8448` -> `example.org:8448`). */
export function serverOf(userId: string): string {
  return userId.slice(userId.indexOf(':') + 1);
}
