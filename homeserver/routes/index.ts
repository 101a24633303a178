// The express app: discovery, media, the Client-Server API under each prefix clients use, the
// appservice side's client routes, and spec errors for everything else.
import express, { Router } from 'express';
import type { HomeserverContext } from '../HomeserverContext.js';
import { clientConfigRoutes } from './clientConfigRoutes.js';
import { pushRoutes } from './pushRoutes.js';
import { deviceRoutes } from './deviceRoutes.js';
import { directoryRoutes } from './directoryRoutes.js';
import { ephemeralRoutes } from './ephemeralRoutes.js';
import { mediaRoutes } from './mediaRoutes.js';
import { openidRoutes, openidUserinfoRoutes } from './openidRoutes.js';
import { mountFederationApi } from './federationApp.js';
import { keyBackupRoutes } from './keyBackupRoutes.js';
import { keysRoutes } from './keysRoutes.js';
import { relationRoutes } from './relationRoutes.js';
import { roomEventRoutes } from './roomEventRoutes.js';
import { roomUpgradeRoutes } from './roomUpgradeRoutes.js';
import { roomMembershipRoutes } from './roomMembershipRoutes.js';
import { searchRoutes } from './searchRoutes.js';
import { sessionRoutes } from './sessionRoutes.js';
import { spaceRoutes } from './spaceRoutes.js';
import { syncRoutes } from './syncRoutes.js';
import { userDataRoutes } from './userDataRoutes.js';
import { cors } from '../http/Cors.js';
import { errorHandler, methodNotAllowed, unrecognized } from '../http/ErrorResponses.js';
import { jsonBody } from '../http/JsonBody.js';
import { requestLog } from '../http/RequestLog.js';
import { RouteTable } from '../http/RouteTable.js';
import { trustedProxies } from '../http/TrustedProxies.js';

/** Spec versions whose Client-Server API this server implements (enough of it for real clients). */
export const SUPPORTED_VERSIONS = [
  'r0.5.0',
  'r0.6.0',
  'r0.6.1',
  'v1.1',
  'v1.2',
  'v1.3',
  'v1.4',
  'v1.5',
  'v1.6',
  'v1.7',
  'v1.8',
  'v1.9',
  'v1.10',
  'v1.11',
];

/**
 * `withFederation`: false when the federation API has a listener of its own (buildFederationApp); then
 * /_matrix/federation and /_matrix/key answer 404 here, as on Synapse's client port.
 */
export function buildClientApp(hs: HomeserverContext, withFederation = true): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // req.ip is the client behind a trusted reverse proxy (rate limits, devices' last_seen_ip).
  app.set('trust proxy', trustedProxies(hs.options.trustedProxies));
  app.use(cors);
  app.use(requestLog(hs.logger, hs.metrics));

  app.get('/.well-known/matrix/client', (_req, res) => {
    const e2ee = hs.options.e2ee;
    res.json({
      'm.homeserver': { base_url: hs.baseUrl() },
      ...(e2ee && { 'io.element.e2ee': { default: e2ee.default, force_disable: e2ee.forceDisable } }),
    });
  });
  app.get('/_matrix/client/versions', (_req, res) => {
    res.json({ versions: SUPPORTED_VERSIONS, unstable_features: {} });
  });
  app.all(['/.well-known/matrix/client', '/_matrix/client/versions'], methodNotAllowed);

  app.use(['/_matrix/media/v3', '/_matrix/media/r0', '/_matrix/media/v1'], mediaRoutes(hs, 'legacy').finish());
  app.use('/_matrix/client/v1/media', mediaRoutes(hs, 'authenticated').finish());
  if (withFederation) app.use('/_matrix/federation/v1', openidUserinfoRoutes(hs).finish());
  const fed = hs.federation;
  if (fed) {
    // Delegation is read where the server name points, which is the client side's web server.
    app.get('/.well-known/matrix/server', (_req, res) => {
      res.json({ 'm.server': fed.options.wellKnownServer });
    });
    app.all('/.well-known/matrix/server', methodNotAllowed);
    if (withFederation) mountFederationApi(app, hs, fed);
  }

  const client = new RouteTable();
  sessionRoutes(client, hs);
  deviceRoutes(client, hs);
  clientConfigRoutes(client, hs);
  pushRoutes(client, hs);
  userDataRoutes(client, hs);
  roomMembershipRoutes(client, hs);
  roomEventRoutes(client, hs);
  roomUpgradeRoutes(client, hs);
  ephemeralRoutes(client, hs);
  keysRoutes(client, hs);
  keyBackupRoutes(client, hs);
  directoryRoutes(client, hs);
  searchRoutes(client, hs);
  syncRoutes(client, hs);
  openidRoutes(client, hs);
  const clientRouter = client.finish();
  // Endpoints the spec defines under /_matrix/client/v1 only.
  const v1 = new RouteTable();
  relationRoutes(v1, hs);
  spaceRoutes(v1, hs);
  const v1Router = v1.finish();

  // The appservice side's routes (third-party lookups, ping) need a requester; nothing else of theirs
  // is reached, so unknown paths still end in 404 rather than 401.
  const appserviceRoutes = Router();
  appserviceRoutes.use(['/thirdparty', '/appservice'], hs.auth.required);
  appserviceRoutes.use(hs.appservice.clientRouter);

  const json = jsonBody(hs.options.maxBodyBytes);
  for (const prefix of ['/_matrix/client/v3', '/_matrix/client/r0', '/_matrix/client/unstable']) {
    app.use(prefix, json, clientRouter, appserviceRoutes);
  }
  app.use('/_matrix/client/v1', json, v1Router, appserviceRoutes);

  app.use(unrecognized);
  app.use(errorHandler(hs.logger));
  return app;
}
