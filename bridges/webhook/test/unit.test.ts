// The webhook bridge's route against the test kit's fake context: the same auth hook and error answers
// as on the host, without a server.
import { describe, expect, it } from '@jest/globals';
import { createFakeContext } from 'patchbay-matrix/plugin/testing';
import createWebhookBridge, { webhookDescriptor, type WebhookConfig } from '../index.js';

const CONFIG: WebhookConfig = { secret: 'a-secret-of-sixteen+', outgoing_url: null, outgoing_secret: null, outgoing_timeout_ms: 1000 };

describe('the webhook bridge with a fake context', () => {
  it('posts a webhook into the channel\'s portal, and answers a wrong secret and a bad body', async () => {
    const plugin = createWebhookBridge();
    const fake = createFakeContext(webhookDescriptor, CONFIG);
    await plugin.start(fake.ctx);
    const auth = { authorization: `Bearer ${CONFIG.secret}` };
    const ok = await fake.http.request('POST', '/_patchbay/bridges/webhook/hooks/ops', { headers: auth, body: { id: '1', sender: 'ci', text: 'green' } });
    expect(ok.status).toBe(202);
    const roomId = (ok.json as { room_id: string }).room_id;
    expect(fake.hs.aliases.get('#webhook_ops:hs.test')).toBe(roomId);
    await fake.outboxSettled();
    expect(fake.hs.messages(roomId).map((m) => [m.sender, m.content.body])).toEqual([['@webhook_ci:hs.test', 'green']]);
    expect((await fake.http.request('POST', '/_patchbay/bridges/webhook/hooks/ops', { body: { id: '2', sender: 'ci', text: 'x' } })).status).toBe(403);
    const bad = await fake.http.request('POST', '/_patchbay/bridges/webhook/hooks/ops', { headers: auth, body: { id: '3' } });
    expect(bad).toMatchObject({ status: 400, json: { errcode: 'M_INVALID_PARAM', error: '"sender" must be a non-empty string' } });
    expect((await fake.http.request('GET', '/_patchbay/bridges/webhook/elsewhere')).status).toBe(404);
  });
});
