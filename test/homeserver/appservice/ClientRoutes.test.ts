// The Client-Server routes of the appservice side (ping, third-party lookups) and identity assertion,
// mounted as the room core mounts them: under the client prefixes, behind an auth middleware that
// asks authenticate() for as_tokens. Real appservices on plain node http servers answer.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../../testkit/waitFor.js';
import {
  ALICE_TOKEN,
  callJson,
  makeService,
  registrationFor,
  ScriptedAppservice,
  SERVER,
  startClientApp,
  writeRegistration,
  type ServiceUnderTest,
} from './fakes.js';

describe('appservice client routes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-as-routes-'));
  const irc1 = new ScriptedAppservice();
  const irc2 = new ScriptedAppservice();
  const slow = new ScriptedAppservice();
  let sut: ServiceUnderTest;
  let base = '';
  let close: () => Promise<void> = async () => {};
  const call = (method: string, path: string, token: string | null, body?: unknown) => callJson(base, method, path, token, body);

  beforeAll(async () => {
    for (const s of [irc1, irc2, slow]) await s.start();
    const protocolOf = (network: string) => ({
      user_fields: ['network', 'nickname'],
      location_fields: ['network', 'channel'],
      icon: `mxc://${SERVER}/irc`,
      field_types: { network: { regexp: '.*', placeholder: 'net' } },
      instances: [{ network_id: network, desc: network, fields: { network } }],
    });
    irc1.respond = (r) => {
      if (r.path === '/_matrix/app/v1/thirdparty/protocol/irc') return { status: 200, body: protocolOf('libera') };
      if (r.path === '/_matrix/app/v1/thirdparty/user/irc') return { status: 200, body: [{ userid: `@_irc1_bob:${SERVER}`, protocol: 'irc', fields: {} }] };
      if (r.path === '/_matrix/app/v1/thirdparty/location') return { status: 200, body: [{ alias: `#_irc1_a:${SERVER}`, protocol: 'irc', fields: {} }] };
      if (r.path === '/_matrix/app/v1/ping') return { status: 200, body: {} };
      return { status: 404, body: { errcode: 'M_NOT_FOUND' } };
    };
    // An older appservice: only the unstable third-party paths.
    irc2.respond = (r) => {
      if (r.path === '/_matrix/app/unstable/thirdparty/protocol/irc') return { status: 200, body: protocolOf('oftc') };
      if (r.path === '/_matrix/app/unstable/thirdparty/user/irc') return { status: 200, body: [{ userid: `@_irc2_bob:${SERVER}`, protocol: 'irc', fields: {} }] };
      if (r.path === '/_matrix/app/v1/ping') return { status: 401, body: { errcode: 'M_UNKNOWN_TOKEN' } };
      return { status: 404, body: { errcode: 'M_UNRECOGNIZED' } };
    };
    slow.respond = () => 'hang';
    const files = [
      writeRegistration(dir, registrationFor('irc1', irc1.url, { protocols: ['irc'] })),
      writeRegistration(dir, registrationFor('irc2', irc2.url, { protocols: ['irc'] })),
      writeRegistration(dir, registrationFor('slow', slow.url, { protocols: ['slowproto'] })),
      writeRegistration(dir, registrationFor('nourl', null)),
      writeRegistration(dir, registrationFor('gone', 'http://127.0.0.1:1')),
    ];
    sut = makeService(files, { options: { pingTimeoutMs: 300, thirdPartyTimeoutMs: 300 } });
    sut.users.add(`@_irc1_ghost:${SERVER}`, 'GHOSTDEV');
    sut.users.add(`@alice:${SERVER}`, 'ALICEDEV');
    await sut.service.start();

    ({ base, close } = await startClientApp(sut.service));
  });

  afterAll(async () => {
    await close();
    await sut.service.stop();
    for (const s of [irc1, irc2, slow]) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('identity assertion', () => {
    it('acts as the sender without user_id, as a registered namespace user with it', async () => {
      expect((await call('GET', '/_matrix/client/v3/account/whoami', 'as-irc1')).body).toEqual({ user_id: `@_irc1_bot:${SERVER}` });
      const ghost = await call('GET', `/_matrix/client/v3/account/whoami?user_id=${encodeURIComponent(`@_irc1_ghost:${SERVER}`)}&device_id=GHOSTDEV`, 'as-irc1');
      expect(ghost.body).toEqual({ user_id: `@_irc1_ghost:${SERVER}`, device_id: 'GHOSTDEV' });
    });

    it('refuses users outside the namespace, unregistered users and foreign devices', async () => {
      const outside = await call('GET', `/_matrix/client/v3/account/whoami?user_id=${encodeURIComponent(`@alice:${SERVER}`)}`, 'as-irc1');
      expect(outside).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
      const otherAs = await call('GET', `/_matrix/client/v3/account/whoami?user_id=${encodeURIComponent(`@_irc1_ghost:${SERVER}`)}`, 'as-irc2');
      expect(otherAs).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
      const unregistered = await call('GET', `/_matrix/client/v3/account/whoami?user_id=${encodeURIComponent(`@_irc1_nobody:${SERVER}`)}`, 'as-irc1');
      expect(unregistered).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
      const device = await call('GET', `/_matrix/client/v3/account/whoami?user_id=${encodeURIComponent(`@_irc1_ghost:${SERVER}`)}&device_id=ALICEDEV`, 'as-irc1');
      expect(device).toMatchObject({ status: 400, body: { errcode: 'M_UNKNOWN_DEVICE' } });
      expect(sut.service.authenticate('not-an-as-token', undefined, undefined)).toBeNull();
    });

    it('answers namespace questions for the room core', () => {
      expect(sut.service.appserviceForUser(`@_irc1_x:${SERVER}`)).toEqual({ id: 'irc1', exclusive: true, sender: false });
      expect(sut.service.appserviceForUser(`@_irc1_bot:${SERVER}`)).toEqual({ id: 'irc1', exclusive: true, sender: true });
      expect(sut.service.appserviceForUser(`@alice:${SERVER}`)).toBeNull();
      expect(sut.service.isExclusiveUser(`@_irc1_x:${SERVER}`)).toBe(true);
      expect(sut.service.isExclusiveUser(`@_irc1_x:${SERVER}`, 'irc1')).toBe(false);
      expect(sut.service.isExclusiveUser(`@_irc2_bot:${SERVER}`, 'irc1')).toBe(true);
      expect(sut.service.isExclusiveAlias(`#_irc2_room:${SERVER}`)).toBe(true);
      expect(sut.service.isExclusiveAlias(`#_irc2_room:${SERVER}`, 'irc2')).toBe(false);
      expect(sut.service.isExclusiveAlias(`#room:${SERVER}`)).toBe(false);
    });
  });

  describe('ping', () => {
    it('calls the appservice with the transaction_id and returns duration_ms', async () => {
      const res = await call('POST', '/_matrix/client/v1/appservice/irc1/ping', 'as-irc1', { transaction_id: 'txn-ping-1' });
      expect(res.status).toBe(200);
      expect(typeof res.body['duration_ms']).toBe('number');
      const ping = irc1.received.find((r) => r.path === '/_matrix/app/v1/ping');
      expect(ping?.method).toBe('POST');
      expect(JSON.parse(ping!.body)).toEqual({ transaction_id: 'txn-ping-1' });
      expect(ping?.authorization).toBe('Bearer hs-irc1');
    });

    it('403 M_FORBIDDEN for another appservice or a normal user', async () => {
      expect(await call('POST', '/_matrix/client/v1/appservice/irc2/ping', 'as-irc1', {})).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
      expect(await call('POST', '/_matrix/client/v1/appservice/irc1/ping', ALICE_TOKEN, {})).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
      expect(await call('POST', '/_matrix/client/v1/appservice/nosuch/ping', 'as-irc1', {})).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    });

    it('400 M_URL_NOT_SET without url', async () => {
      expect(await call('POST', '/_matrix/client/v1/appservice/nourl/ping', 'as-nourl', {})).toMatchObject({ status: 400, body: { errcode: 'M_URL_NOT_SET' } });
    });

    it('502 M_BAD_STATUS with status and body', async () => {
      const res = await call('POST', '/_matrix/client/v1/appservice/irc2/ping', 'as-irc2', {});
      expect(res.status).toBe(502);
      expect(res.body).toMatchObject({ errcode: 'M_BAD_STATUS', status: 401 });
      expect(JSON.parse(res.body['body'] as string)).toEqual({ errcode: 'M_UNKNOWN_TOKEN' });
    });

    it('502 M_CONNECTION_FAILED when nothing listens, 504 M_CONNECTION_TIMEOUT when it never answers', async () => {
      expect(await call('POST', '/_matrix/client/v1/appservice/gone/ping', 'as-gone', {})).toMatchObject({ status: 502, body: { errcode: 'M_CONNECTION_FAILED' } });
      expect(await call('POST', '/_matrix/client/v1/appservice/slow/ping', 'as-slow', {})).toMatchObject({ status: 504, body: { errcode: 'M_CONNECTION_TIMEOUT' } });
    });

    it('rejects a non-string transaction_id and a body that is not JSON', async () => {
      expect(await call('POST', '/_matrix/client/v1/appservice/irc1/ping', 'as-irc1', { transaction_id: 5 })).toMatchObject({ status: 400 });
      const res = await fetch(`${base}/_matrix/client/v1/appservice/irc1/ping`, {
        method: 'POST',
        headers: { authorization: 'Bearer as-irc1', 'content-type': 'application/json' },
        body: '{nope',
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { errcode: string }).errcode).toBe('M_NOT_JSON');
    });
  });

  describe('third-party lookups', () => {
    it('merges a protocol across appservices, tagging instances with "<as id>|<network_id>"', async () => {
      const res = await call('GET', '/_matrix/client/v3/thirdparty/protocols', ALICE_TOKEN);
      expect(res.status).toBe(200);
      expect(Object.keys(res.body)).toEqual(['irc']); // slowproto never answered
      const irc = res.body['irc'] as { user_fields: string[]; instances: Array<Record<string, unknown>> };
      expect(irc.user_fields).toEqual(['network', 'nickname']);
      expect(irc.instances).toEqual([
        { network_id: 'libera', desc: 'libera', fields: { network: 'libera' }, instance_id: 'irc1|libera' },
        { network_id: 'oftc', desc: 'oftc', fields: { network: 'oftc' }, instance_id: 'irc2|oftc' },
      ]);
      expect(sut.service.hasNetwork('irc1|libera')).toBe(true);
      expect(sut.service.hasNetwork('irc2|oftc')).toBe(true);
      expect(sut.service.hasNetwork('irc1|oftc')).toBe(false);
      expect(sut.service.hasNetwork('nosuch|libera')).toBe(false);
      expect(sut.service.hasNetwork('libera')).toBe(false);
      const one = await call('GET', '/_matrix/client/v3/thirdparty/protocol/irc', ALICE_TOKEN);
      expect((one.body['instances'] as unknown[]).length).toBe(2);
      expect(await call('GET', '/_matrix/client/v3/thirdparty/protocol/nosuch', ALICE_TOKEN)).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    });

    it('forwards the query fields exactly (minus access_token) and concatenates the answers', async () => {
      irc1.received.length = 0;
      irc2.received.length = 0;
      const query = 'network=libera&nickname=b%C3%B6b&nickname=second&x+y=a%2Bb';
      const res = await call('GET', `/_matrix/client/v3/thirdparty/user/irc?${query}&access_token=${ALICE_TOKEN}`, ALICE_TOKEN);
      expect(res.status).toBe(200);
      expect(res.body).toEqual([
        { userid: `@_irc1_bob:${SERVER}`, protocol: 'irc', fields: {} },
        { userid: `@_irc2_bob:${SERVER}`, protocol: 'irc', fields: {} },
      ]);
      expect(irc1.received.find((r) => r.path === '/_matrix/app/v1/thirdparty/user/irc')?.query).toBe(query);
      expect(irc2.received.find((r) => r.path === '/_matrix/app/unstable/thirdparty/user/irc')?.query).toBe(query);
      expect([...irc1.received, ...irc2.received].some((r) => r.query.includes(ALICE_TOKEN))).toBe(false);
    });

    it('404 M_NOT_FOUND for an unknown protocol or no results; reverse lookups', async () => {
      expect(await call('GET', '/_matrix/client/v3/thirdparty/user/nosuch?a=b', ALICE_TOKEN)).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
      expect(await call('GET', '/_matrix/client/v3/thirdparty/location/irc?channel=%23x', ALICE_TOKEN)).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
      const reverse = await call('GET', `/_matrix/client/v3/thirdparty/location?alias=${encodeURIComponent(`#_irc1_a:${SERVER}`)}`, ALICE_TOKEN);
      expect(reverse).toMatchObject({ status: 200, body: [{ alias: `#_irc1_a:${SERVER}`, protocol: 'irc', fields: {} }] });
      expect(irc1.received.find((r) => r.path === '/_matrix/app/v1/thirdparty/location')?.query).toBe(`alias=${encodeURIComponent(`#_irc1_a:${SERVER}`)}`);
      expect(await call('GET', '/_matrix/client/v3/thirdparty/user', ALICE_TOKEN)).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
    });
  });

  it('a successful ping wakes a backed-off sender at once', async () => {
    const dir2 = mkdtempSync(join(tmpdir(), 'patchbay-as-wake-'));
    const flaky = new ScriptedAppservice();
    await flaky.start();
    let healthy = false;
    flaky.respond = (r) => (r.method === 'PUT' && !healthy ? { status: 500, body: {} } : { status: 200, body: {} });
    // A backoff far longer than the wait below: only the ping can explain a delivery.
    const local = makeService([writeRegistration(dir2, registrationFor('flaky', flaky.url))], { retry: { initialMs: 600_000, maxMs: 600_000 } });
    await local.service.start();
    const app = await startClientApp(local.service);
    try {
      const [event] = local.stream.append({ room_id: `!r:${SERVER}`, sender: `@_flaky_x:${SERVER}` });
      await waitFor(() => flaky.transactions().length >= 1, 10_000, 'the first failure');
      healthy = true;
      expect((await callJson(app.base, 'POST', '/_matrix/client/v1/appservice/flaky/ping', 'as-flaky', {})).status).toBe(200);
      await waitFor(() => flaky.transactions().length >= 2, 10_000, 'the retry the ping triggered');
      const [failed, retried] = flaky.transactions();
      expect(retried!.txnId).toBe(failed!.txnId);
      expect(retried!.body.events.map((e) => e.event_id)).toEqual([event!.event_id]);
    } finally {
      await app.close();
      await local.service.stop();
      await flaky.stop();
      rmSync(dir2, { recursive: true, force: true });
    }
  });
});
