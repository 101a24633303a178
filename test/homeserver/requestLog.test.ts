// The debug request log: one line per request with the full path, and never an access token.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { enc, registerUser, startTestHomeserver, waitFor, type TestHomeserver, type TestUser } from '../harness/index.js';

describe('request log', () => {
  const lines: string[] = [];
  let hs: TestHomeserver;
  let alice: TestUser;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter((l) => l.length > 0));
        done();
      },
    });
    hs = await startTestHomeserver({ logger: pino({ level: 'debug' }, sink) });
    alice = await registerUser(hs.url, 'alice');
  });

  afterAll(async () => {
    await hs?.stop();
  });

  const requestLines = (): Array<Record<string, unknown>> =>
    lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');

  it('logs the full path, and the query without the access token', async () => {
    const { room_id } = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: {} });
    await alice.http.ok('GET', `/rooms/${enc(room_id)}/messages`, { query: { dir: 'b', limit: 1 } });
    await hs.http.ok('GET', '/sync', { query: { timeout: 0, access_token: alice.accessToken } });
    await waitFor(() => requestLines().some((l) => l.path === '/_matrix/client/v3/sync'), 10_000, 'the /sync line');
    expect(requestLines()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ method: 'GET', path: `/_matrix/client/v3/rooms/${enc(room_id)}/messages`, query: 'dir=b&limit=1', status: 200 }),
        expect.objectContaining({ method: 'GET', path: '/_matrix/client/v3/sync', query: 'timeout=0&access_token=REDACTED', status: 200 }),
      ]),
    );
    expect(lines.join('\n')).not.toContain(alice.accessToken);
  });
});
