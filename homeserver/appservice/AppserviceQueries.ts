// User and alias queries: before the homeserver answers "no such user/alias" for an id inside an
// appservice's namespace, it asks that appservice (GET /users/{userId}, GET /rooms/{alias}); a 200
// means the appservice has just created it through the Client-Server API.
//
// Errors: a 404, any other status, a refused connection or an appservice without URL all mean "no"
// (false), logged. An appservice that accepts the query but never answers is asked once more; if it
// is still silent the caller gets MatrixError 408 M_UNKNOWN, so the client learns that the bridge
// did not answer instead of a misleading "not found" (the spec's AS API asks for a 408 here).
import type { Logger } from 'pino';
import { MatrixError } from '../MatrixError.js';
import type { Appservice, NamespaceMatch } from './Appservice.js';
import type { AppserviceHttpClient, AppserviceResponse } from './AppserviceHttpClient.js';

export interface AppserviceQueriesDeps {
  /** Appservices to ask, in registration order. */
  appservices: () => readonly Appservice[];
  http: AppserviceHttpClient;
  timeoutMs: number;
  logger: Logger;
}

const ATTEMPTS_ON_TIMEOUT = 2;

export class AppserviceQueries {
  constructor(private readonly deps: AppserviceQueriesDeps) {}

  async queryUser(userId: string): Promise<boolean> {
    const path = `/users/${encodeURIComponent(userId)}`;
    return this.ask((as) => as.namespaces.matchUser(userId), 'users', path, { user_id: userId });
  }

  async queryAlias(alias: string): Promise<boolean> {
    const path = `/rooms/${encodeURIComponent(alias)}`;
    return this.ask((as) => as.namespaces.matchAlias(alias), 'rooms', path, { alias });
  }

  /** Asks each owner in turn until one says yes (exclusive owners first: they are the authority). */
  private async ask(
    match: (appservice: Appservice) => NamespaceMatch | null,
    family: string,
    path: string,
    logFields: Record<string, string>,
  ): Promise<boolean> {
    const owners = this.deps.appservices().filter((as) => match(as) !== null);
    const ordered = [...owners].sort((a, b) => Number(match(b)?.exclusive === true) - Number(match(a)?.exclusive === true));
    let timedOut: Appservice | null = null;
    for (const appservice of ordered) {
      if (appservice.url === null) continue;
      const result = await this.askOne(appservice, family, path);
      const fields = { appservice_id: appservice.id, ...logFields };
      if (result.kind === 'response' && result.status === 200) {
        this.deps.logger.debug(fields, 'appservice query: created');
        return true;
      }
      if (result.kind === 'timeout') timedOut = appservice;
      if (result.kind === 'response' && result.status === 404) {
        this.deps.logger.debug(fields, 'appservice query: not found');
      } else {
        this.deps.logger.warn({ ...fields, ...describe(result) }, 'appservice query failed');
      }
    }
    if (timedOut !== null) {
      throw new MatrixError(408, 'M_UNKNOWN', `The application service ${timedOut.id} did not answer in time`);
    }
    return false;
  }

  /** The legacy path is the v1 one without the `/_matrix/app/v1` prefix. */
  private async askOne(appservice: Appservice, family: string, path: string): Promise<AppserviceResponse> {
    let result: AppserviceResponse = { kind: 'timeout' };
    for (let i = 0; i < ATTEMPTS_ON_TIMEOUT && result.kind === 'timeout'; i++) {
      result = await this.deps.http.request(appservice, family, { method: 'GET', v1Path: path, legacyPath: path, timeoutMs: this.deps.timeoutMs });
    }
    return result;
  }
}

function describe(result: AppserviceResponse): Record<string, unknown> {
  switch (result.kind) {
    case 'response':
      return { status: result.status, body: result.text.slice(0, 500) };
    case 'timeout':
      return { error: 'no answer in time' };
    case 'connection_failed':
      return { error: result.message };
    case 'aborted':
      return { error: 'aborted' };
  }
}
