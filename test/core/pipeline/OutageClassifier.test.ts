// Which handler failures are outages of Redis or the homeserver (waited out, no attempt spent) and which
// are failures of the event (counted towards handler_attempts).
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { MatrixApiError } from '../../../core/plugin-api/MatrixApiError.js';
import { outageOf } from '../../../core/queue/OutageClassifier.js';

const hsError = (status: number, errcode = 'M_UNKNOWN'): MatrixApiError =>
  new MatrixApiError(status, errcode, 'test', 'PUT', '/_matrix/client/v3/rooms/x/send/m.room.message/1');

function socketError(code: string, syscall: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${syscall} ${code} /tmp/x/redis.sock`);
  err.code = code;
  err.syscall = syscall;
  return err;
}

describe('outageOf', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-outage-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('takes what a real ioredis client rejects with while no server listens for a Redis outage', async () => {
    // No redis-server on this socket: the same errors as during an outage.
    const path = join(dir, 'nobody.sock');
    const retrying = new Redis({ path, maxRetriesPerRequest: 1, retryStrategy: () => 10 });
    retrying.on('error', () => undefined);
    const failFast = new Redis({ path, enableOfflineQueue: false, lazyConnect: true });
    failFast.on('error', () => undefined);
    const ended = new Redis({ path, lazyConnect: true, retryStrategy: () => null });
    ended.on('error', () => undefined);
    // The raw socket error ioredis hands to commands queued while it connects.
    const raw = await new Promise<unknown>((resolve) => connect(path).on('error', resolve));
    try {
      const errors = await Promise.all([
        retrying.get('k').then(() => null, (e: unknown) => e),
        failFast.get('k').then(() => null, (e: unknown) => e),
        ended.connect().then(() => null, (e: unknown) => e),
        ended.get('k').then(() => null, (e: unknown) => e),
        raw,
      ]);
      for (const err of errors) {
        expect(err).toHaveProperty('message');
        expect([String(err), outageOf(err)]).toEqual([String(err), 'redis']);
      }
    } finally {
      retrying.disconnect();
      failFast.disconnect();
      ended.disconnect();
    }
  });

  it('knows Redis replies that mean "not now" and socket errors thrown as they are', () => {
    const reply = (message: string): Error => Object.assign(new Error(message), { name: 'ReplyError' });
    expect(outageOf(reply('LOADING Redis is loading the dataset in memory'))).toBe('redis');
    expect(outageOf(reply('READONLY You can\'t write against a read only replica.'))).toBe('redis');
    expect(outageOf(reply('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBeNull();
    expect(outageOf(new Error('Command timed out'))).toBe('redis');
    expect(outageOf(socketError('ECONNREFUSED', 'connect'))).toBe('redis');
    expect(outageOf(socketError('ENOENT', 'connect'))).toBe('redis');
    // A missing file is not an outage, nor a plugin's own fetch to its remote network.
    expect(outageOf(socketError('ENOENT', 'open'))).toBeNull();
    expect(outageOf(new TypeError('fetch failed', { cause: socketError('ECONNREFUSED', 'connect') }))).toBeNull();
  });

  it('takes an unreachable homeserver for an outage and a refusal for the event', () => {
    expect(outageOf(hsError(0, 'M_CONNECTION_FAILED'))).toBe('homeserver');
    expect(outageOf(hsError(429, 'M_LIMIT_EXCEEDED'))).toBe('homeserver');
    for (const status of [502, 503, 504]) expect(outageOf(hsError(status))).toBe('homeserver');
    for (const status of [400, 403, 404, 413, 500, 501]) expect(outageOf(hsError(status, 'M_FORBIDDEN'))).toBeNull();
  });

  it('follows causes and needs every error of an AggregateError to be an outage', () => {
    const closed = new Error('Connection is closed.');
    expect(outageOf(new Error('could not store the link', { cause: closed }))).toBe('redis');
    expect(outageOf(new Error('send failed', { cause: hsError(502) }))).toBe('homeserver');
    expect(outageOf(new AggregateError([hsError(503), closed], 'irc: x; sip: y'))).toBe('homeserver');
    expect(outageOf(new AggregateError([hsError(503), new Error('bad content')], 'irc: x; sip: y'))).toBeNull();
    expect(outageOf(new AggregateError([], 'none'))).toBeNull();
  });

  it('counts anything else against the event', () => {
    expect(outageOf(new Error('handler refused'))).toBeNull();
    expect(outageOf('a string')).toBeNull();
    expect(outageOf(undefined)).toBeNull();
    expect(outageOf(new RangeError('Connection is closed')) /* not ioredis's exact text */).toBeNull();
  });
});
