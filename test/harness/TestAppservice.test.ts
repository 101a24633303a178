import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TestAppservice } from './TestAppservice.js';

// The fake peer the homeserver suites rely on: if it accepted wrong tokens or lost repeats, those
// suites would prove nothing.
describe('TestAppservice', () => {
  const as = new TestAppservice();
  const put = (txnId: string, body: unknown, token: string | null = as.hsToken): Promise<Response> =>
    fetch(`${as.url}/_matrix/app/v1/transactions/${txnId}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', ...(token === null ? {} : { Authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body),
    });
  const event = (n: number) => ({ event_id: `$${n}`, room_id: '!r:localhost', sender: '@a:localhost', type: 'm.room.message', origin_server_ts: n, content: { msgtype: 'm.text', body: `${n}` } });

  beforeAll(async () => {
    await as.start();
  });
  afterAll(() => as.stop());

  it('rejects a missing (401) or wrong (403) hs_token', async () => {
    expect((await put('a', { events: [] }, null)).status).toBe(401);
    expect((await put('a', { events: [] }, 'nope')).status).toBe(403);
    expect(as.authFailures).toHaveLength(2);
    expect(as.accepted).toHaveLength(0);
  });

  it('fails the next N attempts on request, then accepts once and treats repeats as no-ops', async () => {
    as.failNextTransactions(2);
    expect((await put('t1', { events: [event(1)] })).status).toBe(500);
    expect((await put('t1', { events: [event(1)] })).status).toBe(500);
    expect((await put('t1', { events: [event(1)] })).status).toBe(200);
    expect((await put('t1', { events: [event(1)] })).status).toBe(200);
    expect(as.attempts.map((a) => a.answered)).toEqual([500, 500, 200, 200]);
    expect(as.events.map((e) => e.event_id)).toEqual(['$1']);
    expect(as.repeatedTxnIds).toEqual(['t1']);
  });

  it('answers unknown endpoints with 404 M_UNRECOGNIZED and serves its protocol', async () => {
    const headers = { Authorization: `Bearer ${as.hsToken}` };
    const unknown = await fetch(`${as.url}/_matrix/app/v1/nope`, { headers });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { errcode: string }).errcode).toBe('M_UNRECOGNIZED');
    const proto = await fetch(`${as.url}/_matrix/app/v1/thirdparty/protocol/${as.protocol}`, { headers });
    expect(proto.status).toBe(200);
    expect(((await proto.json()) as { instances: unknown[] }).instances).toHaveLength(1);
  });
});
