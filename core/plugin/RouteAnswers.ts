// What a bridge's route answers, apart from any HTTP framework: the request a handler sees, the auth
// hook run first, plugin errors turned into responses. The host's express router and the test kit's
// fake both answer through here, so a route behaves the same in a unit test as on the host.
import type { Logger } from 'pino';
import { failureKindOf, type HttpAuthHook, type HttpMethod, type HttpRequest, type HttpResponse, type RetryLaterError } from '../plugin-api/index.js';
import type { BridgeRoute } from './BridgeRoutes.js';

/** The parts of a request as the server read them. */
export interface RequestParts {
  method: HttpMethod;
  path: string;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: Uint8Array;
  remoteAddress: string;
}

/** An answer decided before the handler ran (a body that is not JSON, a refused request). */
class RouteAnswer extends Error {
  constructor(readonly response: HttpResponse) {
    super(String((response.json as { error?: unknown } | undefined)?.error ?? 'refused'));
  }
}

const error = (status: number, errcode: string, message: string, extra: Record<string, unknown> = {}): HttpResponse => ({
  status,
  json: { errcode, error: message, ...extra },
});

export function requestFrom(parts: RequestParts): HttpRequest {
  const text = (): string => Buffer.from(parts.body).toString('utf8');
  return {
    ...parts,
    text,
    json: () => {
      try {
        return JSON.parse(text()) as unknown;
      } catch {
        throw new RouteAnswer(error(400, 'M_NOT_JSON', 'The request body is not JSON'));
      }
    },
    form: () => {
      const fields: Record<string, string> = {};
      for (const [key, value] of new URLSearchParams(text())) if (!(key in fields)) fields[key] = value;
      return fields;
    },
  };
}

/**
 * Runs one route: the auth hook unless the route opts out (false answers 403), then the handler. Plugin
 * errors answer as their kind says (PermanentError 400, RetryLaterError 503 with Retry-After,
 * IgnoredEventError 200); anything else is logged and answered 500.
 */
export async function answerRoute(route: BridgeRoute, hook: HttpAuthHook | null, request: HttpRequest, log: Logger): Promise<HttpResponse> {
  try {
    if (route.auth && !(hook !== null && (await hook(request)))) return error(403, 'M_FORBIDDEN', 'This request is not authorized by the bridge');
    const response = await route.handler(request);
    if (typeof response !== 'object' || response === null) throw new Error('the route handler returned no response object');
    return response;
  } catch (err) {
    if (err instanceof RouteAnswer) return err.response;
    const message = err instanceof Error ? err.message : String(err);
    switch (failureKindOf(err)) {
      case 'permanent':
        log.info({ reason: message }, 'route refused the request for good');
        return error(400, 'M_INVALID_PARAM', message);
      case 'ignored':
        log.debug({ reason: message }, 'route ignored the request');
        return { status: 200, json: {} };
      case 'retry-later': {
        const delay = (err as RetryLaterError).delayMs;
        log.info({ reason: message, retry_after_ms: delay }, 'route asked the caller to retry later');
        if (delay === undefined) return error(503, 'M_UNKNOWN', message);
        return { ...error(503, 'M_UNKNOWN', message, { retry_after_ms: delay }), headers: { 'Retry-After': String(Math.max(1, Math.ceil(delay / 1000))) } };
      }
      default:
        log.error({ err }, 'route handler failed');
        return error(500, 'M_UNKNOWN', 'Internal error');
    }
  }
}
