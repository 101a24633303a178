import { MatrixApiError } from '../plugin-api/MatrixApiError.js';

/** What was unreachable when a handler failed because of an outage rather than because of its event. */
export type OutageSource = 'redis' | 'homeserver';

// What ioredis rejects a command with while its server is away (after its own reconnect tries).
const REDIS_MESSAGES = new Set([
  'Connection is closed.',
  "Stream isn't writeable and enableOfflineQueue options is false",
  'Command timed out',
  'Command aborted due to connection close',
]);
const REDIS_MESSAGE_PREFIXES = ['All sentinels are unreachable', 'Reached the max retries per request limit'];
// Redis replies that mean "not now": loading its data after a restart, or a failover in progress.
const REDIS_REPLY_PREFIXES = ['LOADING ', 'MASTERDOWN ', 'TRYAGAIN ', 'CLUSTERDOWN ', 'READONLY '];
// A socket that could not reach its server. ioredis rejects queued commands with the raw error.
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'ECONNABORTED']);
// Homeserver statuses that mean "unavailable". A plain 500 is not among them: homeservers answer 500
// for request-specific bugs too, and an event taken for an outage would block its partition for ever.
const HOMESERVER_UNAVAILABLE = new Set([0, 429, 502, 503, 504]);

const MAX_DEPTH = 5;

/**
 * Tells an outage of what the handler depends on (Redis, the homeserver) from a failure of the event.
 * The partition worker waits out an outage without spending one of the event's handler_attempts.
 *
 * - ioredis's own rejections (connection closed, max retries per request, command timeout, offline
 *   queue off), Redis's LOADING/MASTERDOWN/TRYAGAIN/CLUSTERDOWN/READONLY replies, and a raw socket error
 *   thrown as is (ECONNREFUSED, ENOENT on connect, ...) are Redis outages;
 * - a MatrixApiError with no response, 429, 502, 503 or 504 (the client's bounded retries gave up) is a
 *   homeserver outage;
 * - an error whose `cause` is one of these (a plugin adding context) is one too, but a raw socket error
 *   only as thrown: wrapped (fetch's "fetch failed") it is a plugin's own remote network, whose outage
 *   must not hold up every room of the partition;
 * - an AggregateError (several plugins failed) is an outage only when every one of its errors is.
 * Everything else is the event's failure and counts as an attempt.
 */
export function outageOf(err: unknown): OutageSource | null {
  return classify(err, 0);
}

function classify(err: unknown, depth: number): OutageSource | null {
  // Duck-typed, not `instanceof Error`: errors made by Node itself may come from another realm (vm, jest).
  if (typeof err !== 'object' || err === null || depth > MAX_DEPTH) return null;
  const e = err as Partial<Error> & { errors?: unknown };
  if (e.name === 'AggregateError' || err instanceof AggregateError) {
    const errors: unknown[] = Array.isArray(e.errors) ? e.errors : [];
    if (errors.length === 0) return null;
    let first: OutageSource | null = null;
    for (const member of errors) {
      const source = classify(member, depth + 1);
      if (source === null) return null;
      first ??= source;
    }
    return first;
  }
  if (err instanceof MatrixApiError) return HOMESERVER_UNAVAILABLE.has(err.status) ? 'homeserver' : null;
  if (typeof e.message !== 'string') return null;
  if (isRedisRejection(e.name ?? '', e.message) || (depth === 0 && isSocketError(err as NodeJS.ErrnoException))) return 'redis';
  return e.cause === undefined ? null : classify(e.cause, depth + 1);
}

function isRedisRejection(name: string, message: string): boolean {
  if (name === 'MaxRetriesPerRequestError' || REDIS_MESSAGES.has(message)) return true;
  if (REDIS_MESSAGE_PREFIXES.some((p) => message.startsWith(p))) return true;
  return name === 'ReplyError' && REDIS_REPLY_PREFIXES.some((p) => message.startsWith(p));
}

function isSocketError(err: NodeJS.ErrnoException): boolean {
  const { code, syscall } = err;
  if (typeof code !== 'string') return false;
  // ENOENT alone is any missing file; on connect it is a unix socket whose server is gone.
  if (code === 'ENOENT') return syscall === 'connect';
  return SOCKET_CODES.has(code);
}
