// Which servers must hear about something: the servers of a room's joined members (for its PDUs, typing
// and receipts), or of everyone who shares a joined room with a user (presence), never this server itself.
// Read from the memberships table; a server name is what follows the first ':' of a user ID.
import type { SqlDatabase } from '../../storage/SqlDatabase.js';

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
    };
  }

  /** The other servers with a joined member in the room, sorted. */
  ofRoom(roomId: string): string[] {
    return (this.s.ofRoom.all(roomId, this.ownServer) as Array<{ server: string }>).map((r) => r.server).sort();
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
