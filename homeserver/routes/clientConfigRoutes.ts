// What clients fetch at startup besides sync: capabilities, push rules, filters, TURN servers.
import { createHmac } from 'node:crypto';
import { MatrixError } from '../MatrixError.js';
import type { HomeserverContext } from '../HomeserverContext.js';
import { body, content, param, query, requesterOf } from '../http/RequestReader.js';
import type { RouteTable } from '../http/RouteTable.js';
import { isPushKind } from '../push/PushRuleStore.js';
import { DEFAULT_ROOM_VERSION, SUPPORTED_ROOM_VERSIONS } from '../rooms/RoomVersions.js';
import { parseSyncFilter } from '../sync/EventFilter.js';
import type { PushKind } from '../push/DefaultPushRules.js';

export function clientConfigRoutes(r: RouteTable, hs: HomeserverContext): void {
  const auth = hs.auth.required;

  r.get('/capabilities', auth, (_req, res) => {
    const available: Record<string, string> = {};
    for (const v of SUPPORTED_ROOM_VERSIONS) available[v] = 'stable';
    res.json({
      capabilities: {
        'm.room_versions': { default: DEFAULT_ROOM_VERSION, available },
        'm.change_password': { enabled: false },
        'm.set_displayname': { enabled: true },
        'm.set_avatar_url': { enabled: true },
        'm.3pid_changes': { enabled: false },
        'm.get_login_token': { enabled: false },
      },
    });
  });

  // Push rules: only the `global` scope exists.
  const scope = (s: string): void => {
    if (s !== 'global') throw new MatrixError(400, 'M_INVALID_PARAM', `Unknown push rule scope ${JSON.stringify(s)}`);
  };
  const kindOf = (k: string): PushKind => {
    if (!isPushKind(k)) throw new MatrixError(400, 'M_INVALID_PARAM', `Unknown push rule kind ${JSON.stringify(k)}`);
    return k;
  };
  r.get('/pushrules/', auth, (_req, res) => {
    res.json({ global: hs.pushRules.ruleset(requesterOf(res).userId) });
  });
  r.get('/pushrules/:scope/', auth, (req, res) => {
    scope(param(req, 'scope'));
    res.json(hs.pushRules.ruleset(requesterOf(res).userId));
  });
  r.get('/pushrules/:scope/:kind/', auth, (req, res) => {
    scope(param(req, 'scope'));
    res.json(hs.pushRules.ruleset(requesterOf(res).userId)[kindOf(param(req, 'kind'))]);
  });
  r.get('/pushrules/:scope/:kind/:ruleId', auth, (req, res) => {
    scope(param(req, 'scope'));
    res.json(hs.pushRules.get(requesterOf(res).userId, kindOf(param(req, 'kind')), param(req, 'ruleId')));
  });
  r.put('/pushrules/:scope/:kind/:ruleId', auth, (req, res) => {
    scope(param(req, 'scope'));
    const me = requesterOf(res);
    hs.pushRules.put(me.userId, kindOf(param(req, 'kind')), param(req, 'ruleId'), body(req).raw, query(req, 'before'), query(req, 'after'));
    res.json({});
  });
  r.delete('/pushrules/:scope/:kind/:ruleId', auth, (req, res) => {
    scope(param(req, 'scope'));
    hs.pushRules.delete(requesterOf(res).userId, kindOf(param(req, 'kind')), param(req, 'ruleId'));
    res.json({});
  });
  r.get('/pushrules/:scope/:kind/:ruleId/enabled', auth, (req, res) => {
    scope(param(req, 'scope'));
    res.json({ enabled: hs.pushRules.get(requesterOf(res).userId, kindOf(param(req, 'kind')), param(req, 'ruleId')).enabled });
  });
  r.put('/pushrules/:scope/:kind/:ruleId/enabled', auth, (req, res) => {
    scope(param(req, 'scope'));
    hs.pushRules.setEnabled(requesterOf(res).userId, kindOf(param(req, 'kind')), param(req, 'ruleId'), body(req).bool('enabled'));
    res.json({});
  });
  r.get('/pushrules/:scope/:kind/:ruleId/actions', auth, (req, res) => {
    scope(param(req, 'scope'));
    res.json({ actions: hs.pushRules.get(requesterOf(res).userId, kindOf(param(req, 'kind')), param(req, 'ruleId')).actions });
  });
  r.put('/pushrules/:scope/:kind/:ruleId/actions', auth, (req, res) => {
    scope(param(req, 'scope'));
    const actions = body(req).raw['actions'];
    if (!Array.isArray(actions)) throw new MatrixError(400, 'M_BAD_JSON', '"actions" must be a list');
    hs.pushRules.setActions(requesterOf(res).userId, kindOf(param(req, 'kind')), param(req, 'ruleId'), actions);
    res.json({});
  });
  // Filters.
  const ownUser = (userId: string, me: string): void => {
    if (userId !== me) throw new MatrixError(403, 'M_FORBIDDEN', 'Cannot use filters of other users');
  };
  r.post('/user/:userId/filter', auth, (req, res) => {
    const me = requesterOf(res);
    ownUser(param(req, 'userId'), me.userId);
    const raw = content(req);
    parseSyncFilter(raw);
    res.json({ filter_id: hs.filters.create(me.userId, raw) });
  });
  r.get('/user/:userId/filter/:filterId', auth, (req, res) => {
    const me = requesterOf(res);
    ownUser(param(req, 'userId'), me.userId);
    const f = hs.filters.get(me.userId, param(req, 'filterId'));
    if (!f) throw new MatrixError(404, 'M_NOT_FOUND', 'No such filter');
    res.json(f);
  });

  // TURN: static credentials, or coturn's REST scheme (use-auth-secret) with a shared secret.
  r.get('/voip/turnServer', auth, (_req, res) => {
    const turn = hs.options.turn;
    if (!turn || turn.uris.length === 0) {
      res.json({});
      return;
    }
    const me = requesterOf(res);
    if (turn.sharedSecret) {
      const expiry = Math.floor(Date.now() / 1000) + turn.ttlSeconds;
      const username = `${expiry}:${me.userId}`;
      const password = createHmac('sha1', turn.sharedSecret).update(username).digest('base64');
      res.json({ username, password, uris: turn.uris, ttl: turn.ttlSeconds });
      return;
    }
    const out: Record<string, unknown> = { uris: turn.uris, ttl: turn.ttlSeconds };
    if (turn.username !== undefined) out['username'] = turn.username;
    if (turn.password !== undefined) out['password'] = turn.password;
    res.json(out);
  });
}
