import { describe, expect, it } from '@jest/globals';
import { SpecValidator } from './SpecValidator.js';

const spec = SpecValidator.load();
const describeSpec = spec ? describe : describe.skip;

// The validator itself must tell good from bad, or every spec-validation suite would pass vacuously.
describeSpec('SpecValidator', () => {
  const v = spec as SpecValidator;

  it('accepts a login response the spec allows and names what is wrong with one it does not', async () => {
    expect(await v.validateResponse('client-server/login.yaml', '/login', 'post', 200, { user_id: '@a:localhost', access_token: 't', device_id: 'D' })).toEqual([]);
    const errors = await v.validateResponse('client-server/login.yaml', '/login', 'post', 200, { user_id: 'a', device_id: 3 });
    expect(errors).toEqual(expect.arrayContaining([expect.stringContaining("required property 'access_token'"), expect.stringContaining('/device_id')]));
  });

  it('resolves paths with placeholders and cross-file $refs (sync timeline events)', async () => {
    const event = { event_id: '$e', type: 'm.room.message', sender: '@a:localhost', origin_server_ts: 1, content: { msgtype: 'm.text', body: 'hi' } };
    const ok = { next_batch: 's1', rooms: { join: { '!r:localhost': { timeline: { events: [event], limited: false } } } } };
    expect(await v.validateResponse('client-server/sync.yaml', '/sync', 'get', 200, ok)).toEqual([]);
    const bad = { next_batch: 's1', rooms: { join: { '!r:localhost': { timeline: { events: [{ type: 'm.room.message' }] } } } } };
    expect((await v.validateResponse('client-server/sync.yaml', '/sync', 'get', 200, bad)).length).toBeGreaterThan(0);
    expect(await v.validateResponse('client-server/room_send.yaml', '/rooms/{roomId}/send/{eventType}/{txnId}', 'put', 200, { event_id: '$x' })).toEqual([]);
  });

  it('reports an operation or status the spec does not define', async () => {
    expect(await v.validateResponse('client-server/login.yaml', '/login', 'put', 200, {})).toEqual([expect.stringContaining('defines no JSON response')]);
  });

  it('validates events against their schema, including the msgtype schema', async () => {
    const base = { event_id: '$e', room_id: '!r:localhost', sender: '@a:localhost', origin_server_ts: 1 };
    expect(await v.validateEvent({ ...base, type: 'm.room.message', content: { msgtype: 'm.text', body: 'hi' } })).toEqual([]);
    expect(await v.validateEvent({ ...base, type: 'm.room.message', content: { msgtype: 'm.text' } })).toEqual(
      expect.arrayContaining([expect.stringContaining("'body'")]),
    );
    expect(await v.validateEvent({ ...base, type: 'm.room.member', content: { membership: 'join' } })).toEqual([expect.stringContaining("'state_key'")]);
    expect(await v.validateEvent({ ...base, type: 'org.example.custom', content: {} })).toEqual([]);
  });

  it('checks the appservice transaction body and registration definitions', async () => {
    expect(await v.validateRequest('application-service/transactions.yaml', '/transactions/{txnId}', 'put', { events: [] })).toEqual([]);
    expect((await v.validateRequest('application-service/transactions.yaml', '/transactions/{txnId}', 'put', {})).length).toBeGreaterThan(0);
    expect((await v.validateDefinition('application-service/definitions/registration.yaml', { id: 'x' })).length).toBeGreaterThan(0);
  });
});

describe('SpecValidator.load', () => {
  it('returns null (and says so) when the spec folder is absent', () => {
    const write = process.stderr.write;
    const messages: string[] = [];
    process.stderr.write = ((chunk: string | Uint8Array) => {
      messages.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      expect(SpecValidator.load('/nonexistent/matrix-spec')).toBeNull();
    } finally {
      process.stderr.write = write;
    }
    expect(messages[0]).toContain('PATCHBAY_MATRIX_SPEC');
  });
});
