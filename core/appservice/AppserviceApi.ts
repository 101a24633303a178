import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { QueryResolver, ThirdPartyResolver } from '../contracts.js';
import { StoreUnavailableError } from '../ingest/StoreUnavailableError.js';
import { TransactionUnstorableError } from '../ingest/TransactionUnstorableError.js';
import type { TransactionSink } from '../ingest/ValidTransaction.js';
import type { PipelineMetrics } from '../metrics/PipelineMetrics.js';
import { AppserviceApiError } from './AppserviceApiError.js';
import { HomeserverTokenCheck } from './HomeserverTokenCheck.js';
import { parseTransactionBody } from './TransactionBody.js';
import { validateTransaction } from './TransactionValidator.js';

export interface AppserviceApiOptions {
  hsToken: string;
  /** Where transactions go; null on a host that does not ingest (every PUT answers 503). */
  sink: TransactionSink | null;
  queries?: QueryResolver | undefined;
  thirdParty?: ThirdPartyResolver | undefined;
  metrics: PipelineMetrics;
  logger: Logger;
  /** Largest transaction body accepted (host.max_body_bytes); larger ones get 413 M_TOO_LARGE. */
  maxBodyBytes: number;
}

const V1 = '/_matrix/app/v1';
const UNSTABLE = '/_matrix/app/unstable';

type Handler = (req: Request, res: Response) => Promise<void>;

/** body-parser's error types, mapped to the spec's errors. */
function bodyError(err: unknown): AppserviceApiError | null {
  const type = (err as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large') return new AppserviceApiError(413, 'M_TOO_LARGE', 'The request body is too large', 'too_large');
  if (type === 'entity.parse.failed') return new AppserviceApiError(400, 'M_NOT_JSON', 'The request body is not valid JSON', 'not_json');
  if (typeof type === 'string' && (type.startsWith('encoding.') || type.startsWith('charset.'))) {
    return new AppserviceApiError(400, 'M_NOT_JSON', 'The request body is not UTF-8 JSON', 'not_json');
  }
  if (type === 'request.aborted' || type === 'request.size.invalid') {
    return new AppserviceApiError(400, 'M_NOT_JSON', 'The request body was incomplete', 'not_json');
  }
  return null;
}

/** The 4xx status an error from express or its router carries (`status` / `statusCode`), or null. */
function clientErrorStatus(err: unknown): number | null {
  if (typeof err !== 'object' || err === null) return null;
  const { status, statusCode } = err as { status?: unknown; statusCode?: unknown };
  const code = typeof status === 'number' ? status : statusCode;
  return typeof code === 'number' && code >= 400 && code < 500 ? code : null;
}

function fieldsOf(req: Request): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.query)) {
    if (key === 'access_token') continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (typeof first === 'string') fields[key] = first;
  }
  return fields;
}

function param(req: Request, name: string): string {
  const value = req.params[name];
  return typeof value === 'string' ? value : Array.isArray(value) ? value.join('/') : '';
}

function requiredQuery(req: Request, name: string): string {
  const value = req.query[name];
  const first = Array.isArray(value) ? value[0] : value;
  if (typeof first !== 'string' || first.length === 0) {
    throw new AppserviceApiError(400, 'M_MISSING_PARAM', `Missing query parameter "${name}"`);
  }
  return first;
}

/**
 * The appservice side of the spec's Application Service API, as an express Router: transactions, user
 * and alias queries, third-party lookups and ping, under `/_matrix/app/v1`, the legacy unprefixed paths
 * and `/_matrix/app/unstable/thirdparty`. Every route checks the hs_token first; a known path with the
 * wrong method gets 405, anything else 404, both M_UNRECOGNIZED.
 */
export function createAppserviceRouter(options: AppserviceApiOptions): Router {
  const { metrics, logger } = options;
  const tokens = new HomeserverTokenCheck(options.hsToken);
  const router = express.Router({ caseSensitive: true, strict: false });
  const auth: RequestHandler = (req, _res, next) => {
    tokens.check(req);
    next();
  };
  const json = (limit: number): RequestHandler => {
    const raw = express.raw({ limit, type: () => true });
    return (req, res, next) => {
      raw(req, res, (err?: unknown) => {
        if (err) return next(bodyError(err) ?? err);
        const bytes: unknown = req.body;
        try {
          req.body = Buffer.isBuffer(bytes) ? parseTransactionBody(bytes) : undefined;
        } catch (parseError: unknown) {
          return next(parseError);
        }
        next();
      });
    };
  };
  const methodNotAllowed: RequestHandler = (req) => {
    throw new AppserviceApiError(405, 'M_UNRECOGNIZED', `${req.method} is not allowed on this endpoint`);
  };
  const wrap =
    (handler: Handler): RequestHandler =>
    (req, res, next) => {
      handler(req, res).catch(next);
    };

  const transaction: Handler = async (req, res) => {
    const txnId = param(req, 'txnId');
    if (req.body === undefined) throw new AppserviceApiError(400, 'M_NOT_JSON', 'The request body must be JSON', 'not_json');
    const txn = validateTransaction(req.body);
    if (!options.sink) throw new AppserviceApiError(503, 'M_UNKNOWN', 'This host does not accept transactions', 'unavailable');
    const stop = metrics.ingestSeconds.startTimer();
    const outcome = await options.sink.ingest(txnId, txn);
    stop();
    logger.debug({ txn_id: txnId, ...outcome }, 'transaction stored');
    res.status(200).json({});
  };

  const userQuery: Handler = async (req, res) => {
    const userId = param(req, 'userId');
    const exists = options.queries ? await options.queries.userExists(userId) : false;
    if (!exists) throw new AppserviceApiError(404, 'M_NOT_FOUND', `No bridge provides the user ${userId}`);
    res.status(200).json({});
  };

  const aliasQuery: Handler = async (req, res) => {
    const alias = param(req, 'alias');
    const exists = options.queries ? await options.queries.aliasExists(alias) : false;
    if (!exists) throw new AppserviceApiError(404, 'M_NOT_FOUND', `No bridge provides the alias ${alias}`);
    res.status(200).json({});
  };

  const noProtocol = (protocol: string): AppserviceApiError =>
    new AppserviceApiError(404, 'M_NOT_FOUND', `No bridge serves the protocol "${protocol}"`);

  const protocol: Handler = async (req, res) => {
    const name = param(req, 'protocol');
    const description = options.thirdParty?.protocol(name) ?? null;
    if (!description) throw noProtocol(name);
    res.status(200).json(description);
  };

  const usersByProtocol: Handler = async (req, res) => {
    const name = param(req, 'protocol');
    const users = options.thirdParty ? await options.thirdParty.users(name, fieldsOf(req)) : null;
    if (!users) throw noProtocol(name);
    res.status(200).json(users);
  };

  const locationsByProtocol: Handler = async (req, res) => {
    const name = param(req, 'protocol');
    const locations = options.thirdParty ? await options.thirdParty.locations(name, fieldsOf(req)) : null;
    if (!locations) throw noProtocol(name);
    res.status(200).json(locations);
  };

  const usersByMatrixId: Handler = async (req, res) => {
    const userId = requiredQuery(req, 'userid');
    res.status(200).json(options.thirdParty ? await options.thirdParty.usersByMatrixId(userId) : []);
  };

  const locationsByAlias: Handler = async (req, res) => {
    const alias = requiredQuery(req, 'alias');
    res.status(200).json(options.thirdParty ? await options.thirdParty.locationsByAlias(alias) : []);
  };

  const ping: Handler = async (req, res) => {
    const body: unknown = req.body;
    const transactionId = typeof body === 'object' && body !== null ? (body as { transaction_id?: unknown }).transaction_id : undefined;
    logger.info({ transaction_id: transactionId }, 'ping from the homeserver');
    res.status(200).json({});
  };

  const markTransaction: RequestHandler = (req, res, next) => {
    res.locals['transaction'] = param(req, 'txnId');
    next();
  };

  for (const base of [V1, '']) {
    router.route(`${base}/transactions/:txnId`).put(markTransaction, auth, json(options.maxBodyBytes), wrap(transaction)).all(methodNotAllowed);
    router.route(`${base}/users/:userId`).get(auth, wrap(userQuery)).all(methodNotAllowed);
    router.route(`${base}/rooms/:alias`).get(auth, wrap(aliasQuery)).all(methodNotAllowed);
  }
  for (const base of [V1, UNSTABLE]) {
    router.route(`${base}/thirdparty/protocol/:protocol`).get(auth, wrap(protocol)).all(methodNotAllowed);
    router.route(`${base}/thirdparty/user/:protocol`).get(auth, wrap(usersByProtocol)).all(methodNotAllowed);
    router.route(`${base}/thirdparty/location/:protocol`).get(auth, wrap(locationsByProtocol)).all(methodNotAllowed);
    router.route(`${base}/thirdparty/user`).get(auth, wrap(usersByMatrixId)).all(methodNotAllowed);
    router.route(`${base}/thirdparty/location`).get(auth, wrap(locationsByAlias)).all(methodNotAllowed);
  }
  router.route(`${V1}/ping`).post(auth, json(64 * 1024), wrap(ping)).all(methodNotAllowed);

  router.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const txnId: unknown = res.locals['transaction'];
    let error: AppserviceApiError;
    if (err instanceof AppserviceApiError) {
      error = err;
    } else if (err instanceof TransactionUnstorableError) {
      // Permanent: a retry fails the same way. Logged with its cause, since a bug would show up here too.
      logger.error({ err, txn_id: txnId }, 'transaction refused: it cannot be stored');
      error = new AppserviceApiError(400, 'M_BAD_JSON', err.message, 'bad_json');
    } else if (clientErrorStatus(err) !== null) {
      // The router's own refusals, e.g. a path parameter that is not valid percent-encoded UTF-8.
      error = new AppserviceApiError(clientErrorStatus(err)!, 'M_INVALID_PARAM', (err as Error).message, 'invalid_param');
    } else if (err instanceof StoreUnavailableError) {
      // 5xx makes the homeserver keep the transaction and send it again: nothing is lost.
      logger.warn({ err }, 'transaction not stored; the homeserver will retry');
      error = new AppserviceApiError(503, 'M_UNKNOWN', err.message, 'unavailable');
    } else {
      logger.error({ err, path: req.path }, 'AS API request failed');
      error = new AppserviceApiError(500, 'M_UNKNOWN', 'Internal error', 'internal');
    }
    if (typeof txnId === 'string') {
      metrics.transactionsRejected.inc({ reason: error.reason });
      if (error.status >= 400 && error.status < 500 && error.status !== 401 && error.status !== 403) {
        logger.warn({ txn_id: txnId, status: error.status, errcode: error.errcode, error: error.message }, 'transaction refused; nothing of it was stored');
      }
    }
    res.status(error.status).json(error.toJSON());
  });
  return router;
}

/** The final handler of the host's app: everything no route took. */
export const unrecognizedRoute: RequestHandler = (req, res) => {
  res.status(404).json({ errcode: 'M_UNRECOGNIZED', error: `Unrecognized request: ${req.method} ${req.path}` });
};
