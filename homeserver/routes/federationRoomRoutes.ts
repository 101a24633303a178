// The room endpoints of the Server-Server API (docs/federation.md#joining): /send (docs/federation.md#receiving),
// make_join/send_join,
// make_leave/send_leave and make_knock/send_knock for another server's users, and the reads a server in a room fills gaps with
// (/event, /state, /state_ids, /event_auth, /backfill, /get_missing_events). Every request is X-Matrix signed.
import type { Request } from 'express';
import type { Federation } from '../federation/Federation.js';
import { acceptMembership, membershipTemplate, sendJoinResponse, sendKnockResponse } from '../federation/membership/ResidentMembership.js';
import { receiveInvite } from '../federation/membership/InviteReceiver.js';
import { backfill, missingEvents, pdusForServer, readableEvent, requireServerInRoom, stateBeforeEvent, transactionOf } from '../federation/membership/RoomReads.js';
import { authChainOf, pdusOf } from '../federation/membership/RoomGraph.js';
import { TransactionReceiver } from '../federation/receive/TransactionReceiver.js';
import type { HomeserverContext } from '../HomeserverContext.js';
import { Body, param, query, queryInt } from '../http/RequestReader.js';
import { RouteTable } from '../http/RouteTable.js';
import { MatrixError } from '../MatrixError.js';
import { requireSignedRequest } from './federationRoutes.js';

const origin = (res: { locals: Record<string, unknown> }): string => res.locals['origin'] as string;

/** A query parameter that may repeat (`?ver=10&ver=11`, `?v=$a&v=$b`). */
function queryList(req: Request, name: string): string[] {
  const v = req.query[name];
  const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return list.filter((x): x is string => typeof x === 'string');
}

function requiredQuery(req: Request, name: string): string {
  const v = query(req, name);
  if (v === undefined) throw new MatrixError(400, 'M_MISSING_PARAM', `Missing ${name}`);
  return v;
}

/** Mounted under /_matrix/federation/v1. */
export function federationRoomRoutesV1(hs: HomeserverContext, fed: Federation): RouteTable {
  const r = new RouteTable();
  const signed = requireSignedRequest(hs, fed);
  const transactions = new TransactionReceiver(hs, fed);
  r.put('/send/:txnId', signed, async (req, res) => {
    res.json(await transactions.receive(origin(res), param(req, 'txnId'), req.body));
  });
  r.get('/make_join/:roomId/:userId', signed, (req, res) => {
    // Without ver the spec assumes a server that knows only version 1.
    const versions = queryList(req, 'ver');
    res.json(membershipTemplate(hs, origin(res), param(req, 'roomId'), param(req, 'userId'), 'join', versions.length > 0 ? versions : ['1']));
  });
  r.get('/make_leave/:roomId/:userId', signed, (req, res) => {
    res.json(membershipTemplate(hs, origin(res), param(req, 'roomId'), param(req, 'userId'), 'leave', []));
  });
  r.get('/make_knock/:roomId/:userId', signed, (req, res) => {
    res.json(membershipTemplate(hs, origin(res), param(req, 'roomId'), param(req, 'userId'), 'knock', queryList(req, 'ver')));
  });
  r.put('/send_knock/:roomId/:eventId', signed, async (req, res) => {
    const roomId = param(req, 'roomId');
    await acceptMembership(hs, fed, origin(res), roomId, param(req, 'eventId'), req.body, 'knock');
    res.json(sendKnockResponse(hs, roomId));
  });
  r.get('/event/:eventId', signed, (req, res) => {
    const event = readableEvent(hs, origin(res), param(req, 'eventId'));
    res.json(transactionOf(hs, pdusForServer(hs, origin(res), [event])));
  });
  r.get('/state/:roomId', signed, (req, res) => {
    const { state, authChain } = stateBeforeEvent(hs, origin(res), param(req, 'roomId'), requiredQuery(req, 'event_id'));
    res.json({ pdus: pdusOf(hs.events, state), auth_chain: pdusOf(hs.events, authChain) });
  });
  r.get('/state_ids/:roomId', signed, (req, res) => {
    const { state, authChain } = stateBeforeEvent(hs, origin(res), param(req, 'roomId'), requiredQuery(req, 'event_id'));
    res.json({ pdu_ids: state.map((e) => e.event_id), auth_chain_ids: authChain.map((e) => e.event_id) });
  });
  r.get('/event_auth/:roomId/:eventId', signed, (req, res) => {
    const event = readableEvent(hs, origin(res), param(req, 'eventId'), param(req, 'roomId'));
    res.json({ auth_chain: pdusOf(hs.events, authChainOf(hs.events, [event])) });
  });
  r.get('/backfill/:roomId', signed, (req, res) => {
    const roomId = param(req, 'roomId');
    requireServerInRoom(hs, origin(res), roomId);
    const from = queryList(req, 'v');
    if (from.length === 0) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing v');
    const limit = queryInt(req, 'limit', 1);
    if (limit === undefined) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing limit');
    res.json(transactionOf(hs, backfill(hs, origin(res), roomId, from, limit)));
  });
  r.post('/get_missing_events/:roomId', signed, (req, res) => {
    const roomId = param(req, 'roomId');
    requireServerInRoom(hs, origin(res), roomId);
    const b = new Body(req.body);
    const limit = b.optInt('limit') ?? 10;
    const minDepth = b.optInt('min_depth') ?? 0;
    res.json({ events: missingEvents(hs, origin(res), roomId, b.optStringList('earliest_events') ?? [], b.optStringList('latest_events') ?? [], limit, minDepth) });
  });
  return r;
}

/** Mounted under /_matrix/federation/v2. */
export function federationRoomRoutesV2(hs: HomeserverContext, fed: Federation): RouteTable {
  const r = new RouteTable();
  const signed = requireSignedRequest(hs, fed);
  r.put('/send_join/:roomId/:eventId', signed, async (req, res) => {
    const joined = await acceptMembership(hs, fed, origin(res), param(req, 'roomId'), param(req, 'eventId'), req.body, 'join');
    res.json(sendJoinResponse(hs, joined));
  });
  r.put('/invite/:roomId/:eventId', signed, async (req, res) => {
    res.json(await receiveInvite(hs, fed, origin(res), param(req, 'roomId'), param(req, 'eventId'), req.body));
  });
  r.put('/send_leave/:roomId/:eventId', signed, async (req, res) => {
    await acceptMembership(hs, fed, origin(res), param(req, 'roomId'), param(req, 'eventId'), req.body, 'leave');
    res.json({});
  });
  return r;
}
