// The webhook bridge on the real stack: a POST to its route appears in the channel's room, said by the
// sender's ghost; what a Matrix user says there reaches the receiver (retried when it is busy, refused
// with a notice when it says no).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { enc, startPluginStack, waitFor, type PluginStack, type TestUser } from 'patchbay-matrix/plugin/testing';
import createWebhookBridge from '../index.js';

const SECRET = 'a-webhook-secret-of-some-length';

interface Received {
  headers: IncomingMessage['headers'];
  body: { channel: string; event_id: string; sender: string; text: string; ts: number };
}

describe('the webhook bridge on the real stack', () => {
  let stack: PluginStack;
  let alice: TestUser;
  let receiver: Server;
  const received: Received[] = [];
  /** Statuses the receiver answers with, in turn; 200 when empty. */
  const answers: number[] = [];
  let txn = 0;

  const post = (channel: string, body: unknown, secret = SECRET) =>
    fetch(`${stack.hostUrl}/_patchbay/bridges/webhook/hooks/${channel}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const timeline = async (roomId: string) =>
    (await alice.http.ok<{ chunk: Array<{ event_id: string; sender: string; type: string; content: Record<string, unknown> }> }>('GET', `/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 50 } })).chunk.reverse();

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let text = '';
      req.on('data', (d: Buffer) => (text += d.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body: JSON.parse(text) as Received['body'] });
        const status = answers.shift() ?? (text.includes('refuse me') ? 400 : 200);
        res.writeHead(status, status === 503 ? { 'retry-after': '1' } : {}).end();
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/in`;
    stack = await startPluginStack({
      bridges: { webhook: { factory: createWebhookBridge, config: { secret: SECRET, outgoing_url: url, outgoing_secret: 'out-secret' } } },
    });
    alice = await stack.registerUser('alice');
  });

  afterAll(async () => {
    await stack?.stop();
    receiver?.closeAllConnections();
    receiver?.close();
  });

  it('posts an incoming webhook into the channel\'s room as its sender\'s ghost, once per id', async () => {
    const first = await post('alerts', { id: 'a-1', sender: 'grafana', text: 'disk 91% full' });
    expect(first.status).toBe(202);
    const { room_id: roomId } = (await first.json()) as { room_id: string };
    expect((await post('alerts', { id: 'a-1', sender: 'grafana', text: 'disk 91% full' })).status).toBe(202);
    await alice.http.ok('POST', `/join/${enc('#webhook_alerts:localhost')}`, { body: {} });
    const said = await waitFor(async () => (await timeline(roomId)).find((e) => e.type === 'm.room.message'), 20_000, 'the webhook message');
    expect(said).toMatchObject({ sender: '@webhook_grafana:localhost', content: { msgtype: 'm.text', body: 'disk 91% full' } });
    await post('alerts', { id: 'a-2', sender: 'grafana', text: 'disk fine again' });
    await waitFor(async () => (await timeline(roomId)).filter((e) => e.type === 'm.room.message').length === 2, 20_000, 'the second message');
  });

  it('refuses a wrong secret and a malformed body, saying what is wrong', async () => {
    expect((await post('alerts', { id: 'x', sender: 's', text: 't' }, 'wrong-secret-wrong-secret!!')).status).toBe(403);
    const bad = await post('alerts', { id: 'x', sender: 's' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ errcode: 'M_INVALID_PARAM', error: '"text" must be a non-empty string' });
    expect((await post('Not A Channel', { id: 'x', sender: 's', text: 't' })).status).toBe(400);
  });

  it('posts what a Matrix user says in the room to the receiver, again after a 503, with an idempotency key', async () => {
    const roomId = (await alice.http.ok<{ room_id: string }>('GET', `/directory/room/${enc('#webhook_alerts:localhost')}`)).room_id;
    answers.push(503);
    const { event_id: eventId } = await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(roomId)}/send/m.room.message/t${txn++}`, { body: { msgtype: 'm.text', body: 'on it' } });
    const tries = await waitFor(() => {
      const mine = received.filter((r) => r.body.event_id === eventId);
      return mine.length >= 2 ? mine : null;
    }, 20_000, 'the message posted twice (503, then 200)');
    expect(tries.map((t) => t.body)).toEqual([0, 1].map(() => expect.objectContaining({ channel: 'alerts', sender: alice.userId, text: 'on it' })));
    expect(tries[1]!.headers).toMatchObject({ authorization: 'Bearer out-secret', 'idempotency-key': eventId });
  });

  it('tells the room when the receiver refuses a message', async () => {
    const roomId = (await alice.http.ok<{ room_id: string }>('GET', `/directory/room/${enc('#webhook_alerts:localhost')}`)).room_id;
    const { event_id: eventId } = await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(roomId)}/send/m.room.message/t${txn++}`, { body: { msgtype: 'm.text', body: 'refuse me' } });
    const notice = await waitFor(async () => (await timeline(roomId)).find((e) => e.content.msgtype === 'm.notice'), 20_000, 'the notice');
    expect(notice.content.body).toBe(`⚠️ Could not bridge a message from ${alice.userId} (${eventId}): the webhook receiver refused the message (400)`);
    expect(received.filter((r) => r.body.event_id === eventId)).toHaveLength(1);
  });
});
