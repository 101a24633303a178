// Pushers (GET /pushers, POST /pushers/set) and the notification list (GET /notifications).
import { MatrixError } from '../MatrixError.js';
import type { HomeserverContext } from '../HomeserverContext.js';
import { body, query, queryInt, requesterOf } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';
import type { Pusher } from '../push/PusherStore.js';

// The spec's limits on the two keys that identify a pusher.
const MAX_PUSHKEY_BYTES = 512;
const MAX_APP_ID_CHARS = 64;
const NOTIFY_PATH = '/_matrix/push/v1/notify';

function publicView(p: Pusher): Record<string, unknown> {
  const out: Record<string, unknown> = {
    pushkey: p.pushkey,
    kind: p.kind,
    app_id: p.app_id,
    app_display_name: p.app_display_name,
    device_display_name: p.device_display_name,
    lang: p.lang,
    data: p.data,
  };
  if (p.profile_tag !== null) out['profile_tag'] = p.profile_tag;
  return out;
}

/** data.url must be an http(s) URL of a gateway's notify endpoint. */
function gatewayUrl(data: Record<string, unknown>): string {
  const url = data['url'];
  if (typeof url !== 'string') throw new MatrixError(400, 'M_MISSING_PARAM', 'An http pusher needs data.url');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new MatrixError(400, 'M_INVALID_PARAM', 'data.url must be a URL');
  }
  if ((parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || parsed.pathname !== NOTIFY_PATH) {
    throw new MatrixError(400, 'M_INVALID_PARAM', `data.url must be an http(s) URL with the path ${NOTIFY_PATH}`);
  }
  return url;
}

export function pushRoutes(r: RouteTable, hs: HomeserverContext): void {
  const auth = hs.auth.required;

  r.get('/pushers', auth, (_req, res) => {
    res.json({ pushers: hs.pushers.ofUser(requesterOf(res).userId).map(publicView) });
  });

  r.post('/pushers/set', auth, (req, res) => {
    const me = requesterOf(res);
    const b = body(req);
    const pushkey = b.string('pushkey');
    const appId = b.string('app_id');
    if (Buffer.byteLength(pushkey) > MAX_PUSHKEY_BYTES) throw new MatrixError(400, 'M_INVALID_PARAM', `pushkey is longer than ${MAX_PUSHKEY_BYTES} bytes`);
    if (appId.length > MAX_APP_ID_CHARS) throw new MatrixError(400, 'M_INVALID_PARAM', `app_id is longer than ${MAX_APP_ID_CHARS} characters`);
    const kind = b.raw['kind'];
    if (kind === null) {
      // kind: null deletes the pusher.
      const k = { user_id: me.userId, app_id: appId, pushkey };
      if (hs.pushers.remove(k)) hs.pushSender.forget(k);
      res.json({});
      return;
    }
    if (kind !== 'http') {
      throw new MatrixError(400, 'M_INVALID_PARAM', `Unsupported pusher kind ${JSON.stringify(kind)}: this server delivers only http pushers`);
    }
    const data = b.optObject('data') ?? {};
    gatewayUrl(data);
    const removed = hs.pushers.set(
      {
        user_id: me.userId,
        app_id: appId,
        pushkey,
        kind,
        app_display_name: b.string('app_display_name'),
        device_display_name: b.string('device_display_name'),
        profile_tag: b.optString('profile_tag') ?? null,
        lang: b.string('lang'),
        data,
        device_id: me.deviceId,
        pushkey_ts: Math.floor(Date.now() / 1000),
      },
      hs.events.head(),
      b.optBool('append') === true,
    );
    for (const k of removed) hs.pushSender.forget(k);
    res.json({});
  });

  r.get('/notifications', auth, (req, res) => {
    const me = requesterOf(res);
    const from = query(req, 'from');
    if (from !== undefined && !/^\d{1,15}$/.test(from)) throw new MatrixError(400, 'M_INVALID_PARAM', 'Unknown "from" token');
    const limit = Math.min(queryInt(req, 'limit', 1) ?? 20, 100);
    const only = query(req, 'only');
    const rows = hs.pushActions.page(me.userId, from === undefined ? Infinity : Number(from), limit + 1, only === 'highlight');
    const page = rows.slice(0, limit);
    const notifications = [];
    for (const row of page) {
      const ev = hs.events.event(row.event_id);
      if (!ev) continue;
      const read = hs.receipts.readPositions(row.room_id, me.userId);
      notifications.push({
        actions: row.actions,
        event: hs.formatter.format(ev),
        read: read.unthreaded >= row.pos || (read.threads.get(row.thread_id) ?? 0) >= row.pos,
        room_id: row.room_id,
        ts: row.ts,
      });
    }
    res.json({ notifications, ...(rows.length > limit && { next_token: String(page[page.length - 1]!.pos) }) });
  });
}
