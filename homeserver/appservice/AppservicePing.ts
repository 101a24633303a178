// POST /_matrix/client/v1/appservice/{appserviceId}/ping (spec v1.7): the appservice asks the homeserver
// to call its POST /_matrix/app/v1/ping, to check both directions work. A successful ping also wakes the
// appservice's transaction sender from its backoff (as element-hq/synapse#18521 does), so a bridge that
// comes back delivers its backlog at once instead of after the remaining wait.
import type { Logger } from 'pino';
import type { Requester } from '../contracts.js';
import { MatrixError } from '../MatrixError.js';
import type { Appservice } from './Appservice.js';
import type { AppserviceHttpClient } from './AppserviceHttpClient.js';

export interface AppservicePingDeps {
  find: (appserviceId: string) => Appservice | null;
  http: AppserviceHttpClient;
  timeoutMs: number;
  onSuccess: (appserviceId: string) => void;
  logger: Logger;
}

export class AppservicePing {
  constructor(private readonly deps: AppservicePingDeps) {}

  async ping(requester: Requester | undefined, appserviceId: string, body: unknown): Promise<{ duration_ms: number }> {
    const appservice = requester?.appserviceId === appserviceId ? this.deps.find(appserviceId) : null;
    if (appservice === null) {
      throw new MatrixError(403, 'M_FORBIDDEN', "Provided access token is not the appservice's as_token");
    }
    const transactionId = body !== null && typeof body === 'object' ? (body as Record<string, unknown>)['transaction_id'] : undefined;
    if (transactionId !== undefined && typeof transactionId !== 'string') {
      throw new MatrixError(400, 'M_INVALID_PARAM', 'transaction_id must be a string');
    }
    if (appservice.url === null) {
      throw new MatrixError(400, 'M_URL_NOT_SET', "Application service doesn't have a URL configured");
    }
    const started = performance.now();
    const result = await this.deps.http.request(appservice, 'ping', {
      method: 'POST',
      v1Path: '/ping',
      legacyPath: null,
      body: JSON.stringify(transactionId === undefined ? {} : { transaction_id: transactionId }),
      timeoutMs: this.deps.timeoutMs,
    });
    const durationMs = Math.round(performance.now() - started);
    const fields = { appservice_id: appserviceId, transaction_id: transactionId, duration_ms: durationMs };
    switch (result.kind) {
      case 'response':
        if (result.status >= 200 && result.status < 300) {
          this.deps.logger.info(fields, 'appservice ping succeeded');
          this.deps.onSuccess(appserviceId);
          return { duration_ms: durationMs };
        }
        this.deps.logger.warn({ ...fields, status: result.status }, 'appservice ping: bad status');
        throw new MatrixError(502, 'M_BAD_STATUS', `Ping returned status ${result.status}`, {
          status: result.status,
          body: result.text.slice(0, 4096),
        });
      case 'timeout':
        this.deps.logger.warn(fields, 'appservice ping timed out');
        throw new MatrixError(504, 'M_CONNECTION_TIMEOUT', 'Connection to application service timed out');
      case 'connection_failed':
      case 'aborted':
        this.deps.logger.warn({ ...fields, error: result.kind === 'connection_failed' ? result.message : 'aborted' }, 'appservice ping failed');
        throw new MatrixError(502, 'M_CONNECTION_FAILED', 'Connection to application service failed');
    }
  }
}
