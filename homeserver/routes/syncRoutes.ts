// GET /sync.
import { MatrixError } from '../MatrixError.js';
import type { HomeserverContext } from '../HomeserverContext.js';
import { query, queryBool, queryInt, requesterOf } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';
import type { PresenceState } from '../ephemeral/PresenceTracker.js';
import { parseSyncFilter, type SyncFilter } from '../sync/EventFilter.js';
import { parseToken } from '../sync/SyncToken.js';

const MAX_TIMEOUT_MS = 300_000;
const PRESENCE = new Set(['online', 'offline', 'unavailable']);

export function syncRoutes(r: RouteTable, hs: HomeserverContext): void {
  r.get('/sync', hs.auth.required, async (req, res) => {
    const me = requesterOf(res);
    const filterParam = query(req, 'filter');
    let filter: SyncFilter;
    if (filterParam === undefined || filterParam === '') {
      filter = parseSyncFilter({});
    } else if (filterParam.trimStart().startsWith('{')) {
      let raw: unknown;
      try {
        raw = JSON.parse(filterParam);
      } catch {
        throw new MatrixError(400, 'M_INVALID_PARAM', '"filter" is not valid JSON');
      }
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new MatrixError(400, 'M_INVALID_PARAM', '"filter" must be an object');
      filter = parseSyncFilter(raw as Record<string, unknown>);
    } else {
      const stored = hs.filters.get(me.userId, filterParam);
      if (!stored) throw new MatrixError(400, 'M_INVALID_PARAM', `Unknown filter ${JSON.stringify(filterParam)}`);
      filter = parseSyncFilter(stored);
    }
    const sinceRaw = query(req, 'since');
    const since = sinceRaw ? parseToken(sinceRaw, 'since') : null;
    const setPresence = query(req, 'set_presence');
    if (setPresence !== undefined && !PRESENCE.has(setPresence)) {
      throw new MatrixError(400, 'M_INVALID_PARAM', '"set_presence" must be online, offline or unavailable');
    }
    const timeoutMs = Math.min(queryInt(req, 'timeout') ?? 0, MAX_TIMEOUT_MS);
    // Stop waiting when the client goes away.
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const response = await hs.sync.sync({
      requester: me,
      since,
      fullState: queryBool(req, 'full_state') ?? false,
      filter,
      timeoutMs,
      setPresence: setPresence as PresenceState | undefined,
      abort: abort.signal,
    });
    if (!abort.signal.aborted) res.json(response);
  });
}
