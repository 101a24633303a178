// The Server-Server API's routes: the key server and notary under /_matrix/key/v2, everything signed under
// /_matrix/federation (with OpenID userinfo, which integration servers reach the same way). Mounted on the
// client app, or on an app of their own for homeserver.federation.listener (docs/federation.md#the-federation-listener).
import express from 'express';
import type { Federation } from '../federation/Federation.js';
import type { HomeserverContext } from '../HomeserverContext.js';
import { errorHandler, unrecognized } from '../http/ErrorResponses.js';
import { jsonBody } from '../http/JsonBody.js';
import { requestLog } from '../http/RequestLog.js';
import { trustedProxies } from '../http/TrustedProxies.js';
import { federationApiRoutes, keyServerRoutes } from './federationRoutes.js';
import { federationRoomRoutesV1, federationRoomRoutesV2 } from './federationRoomRoutes.js';
import { openidUserinfoRoutes } from './openidRoutes.js';

/** /_matrix/key/v2 and /_matrix/federation/v1|v2 (not OpenID userinfo, which the caller places). */
export function mountFederationApi(app: express.Express, hs: HomeserverContext, fed: Federation): void {
  const federationJson = jsonBody(fed.options.maxBodyBytes);
  app.use('/_matrix/key/v2', federationJson, keyServerRoutes(fed).finish());
  // One body reader for both v1 tables: a second one would find the body already read and clear it.
  app.use('/_matrix/federation/v1', federationJson, federationApiRoutes(hs, fed).finish(), federationRoomRoutesV1(hs, fed).finish());
  app.use('/_matrix/federation/v2', federationJson, federationRoomRoutesV2(hs, fed).finish());
}

/** The federation listener's app: the federation API only; anything else is 404 M_UNRECOGNIZED. */
export function buildFederationApp(hs: HomeserverContext, fed: Federation): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', trustedProxies(hs.options.trustedProxies));
  app.use(requestLog(hs.logger, hs.metrics));
  app.use('/_matrix/federation/v1', openidUserinfoRoutes(hs).finish());
  mountFederationApi(app, hs, fed);
  app.use(unrecognized);
  app.use(errorHandler(hs.logger));
  return app;
}
