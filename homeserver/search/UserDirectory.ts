// POST /user_directory/search: the people a user may start a chat with. That is whoever shares a room
// with the searcher, whoever is joined to a public room, and every registered bridge ghost (an appservice
// user: "new chat" must find `@irc_libera_alice` before any room holds both). Users of other servers
// count too, as members of those rooms; their name and avatar are those of their latest join event (the
// profile their server gave the room), as this server has no account for them. Matched on the user ID and
// the display name, case-insensitively. It is read from the live tables on every search, so a profile or
// membership change shows at once, with no index to keep in step.
import type { SqlDatabase } from '../storage/SqlDatabase.js';

export interface DirectoryUser {
  user_id: string;
  display_name?: string;
  avatar_url?: string;
}

interface Row {
  user_id: string;
  displayname: string | null;
  avatar_url: string | null;
}

/** A string field of a remote member's latest join event (NULL when absent or not a string). */
const fromJoin = (field: string): string => `(
  SELECT CASE WHEN json_type(e.content, '$.${field}') = 'text' THEN json_extract(e.content, '$.${field}') END
  FROM memberships m JOIN events e ON e.event_id = m.event_id
  WHERE m.user_id = c.user_id AND m.membership = 'join' ORDER BY m.pos DESC LIMIT 1)`;

const CANDIDATES = `
WITH searcher_rooms AS (
  SELECT room_id FROM memberships WHERE user_id = @me AND membership = 'join'
  UNION
  SELECT s.room_id FROM room_state s JOIN events e ON e.event_id = s.event_id
  WHERE s.type = 'm.room.join_rules' AND s.state_key = '' AND json_extract(e.content, '$.join_rule') = 'public'
), candidates AS (
  SELECT user_id FROM memberships WHERE membership = 'join' AND room_id IN (SELECT room_id FROM searcher_rooms)
  UNION
  SELECT user_id FROM users WHERE appservice_id IS NOT NULL
), profiles AS (
  SELECT c.user_id,
    CASE WHEN u.user_id IS NULL THEN ${fromJoin('displayname')} ELSE u.displayname END AS displayname,
    CASE WHEN u.user_id IS NULL THEN ${fromJoin('avatar_url')} ELSE u.avatar_url END AS avatar_url
  FROM candidates c LEFT JOIN users u ON u.user_id = c.user_id
)
SELECT user_id, displayname, avatar_url FROM profiles`;

/** SQLite's lower() folds ASCII only: a term with other letters is matched here instead. */
const ASCII = /^[\x20-\x7e]*$/;

export class UserDirectory {
  private readonly s;

  constructor(db: SqlDatabase) {
    this.s = {
      ascii: db.prepare(
        `${CANDIDATES} WHERE instr(lower(user_id), @term) > 0 OR instr(lower(COALESCE(displayname, '')), @term) > 0
         ORDER BY user_id LIMIT @cap`,
      ),
      all: db.prepare(`${CANDIDATES} ORDER BY user_id`),
    };
  }

  /** Up to `limit` matches, best first (exact, then prefix, then anywhere), and whether more matched. */
  search(searcher: string, term: string, limit: number): { results: DirectoryUser[]; limited: boolean } {
    const folded = term.trim().toLowerCase();
    if (folded === '') return { results: [], limited: false };
    // Ranking looks at every match, so a cap on what is fetched keeps a common term's cost bounded.
    const cap = Math.max(limit * 20, 500);
    const rows = ASCII.test(folded)
      ? (this.s.ascii.all({ me: searcher, term: folded, cap: cap + 1 }) as Row[])
      : (this.s.all.all({ me: searcher }) as Row[]).filter((r) => r.user_id.toLowerCase().includes(folded) || (r.displayname ?? '').toLowerCase().includes(folded));
    const scored = rows.slice(0, cap).map((r) => ({ r, score: score(r, folded) }));
    scored.sort((a, b) => a.score - b.score || a.r.user_id.localeCompare(b.r.user_id));
    const results = scored.slice(0, limit).map(({ r }) => {
      const u: DirectoryUser = { user_id: r.user_id };
      if (r.displayname !== null) u.display_name = r.displayname;
      if (r.avatar_url !== null && r.avatar_url !== '') u.avatar_url = r.avatar_url;
      return u;
    });
    return { results, limited: rows.length > limit };
  }
}

function score(r: Row, term: string): number {
  const localpart = r.user_id.slice(1, r.user_id.indexOf(':')).toLowerCase();
  const name = (r.displayname ?? '').toLowerCase();
  if (localpart === term || name === term || r.user_id.toLowerCase() === term) return 0;
  if (localpart.startsWith(term) || name.startsWith(term) || name.split(/\s+/).some((w) => w.startsWith(term))) return 1;
  return 2;
}
