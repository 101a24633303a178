// ctx.provisioning's parts on their own: the OpenID check (asks the homeserver once per token while it is
// cached, trusts only its own server name, says "try again" when the homeserver cannot be reached), the
// shared secret's minimum, and the IRC bridge's provisioning settings checked at load without echoing
// the secret. The end-to-end behaviour is in test/irc/provisioning.test.ts.
import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { PluginLoader } from '../../../core/plugin/PluginLoader.js';
import { ConfigError } from '../../../config/index.js';
import type { BuiltinBridgeRegistry, HttpRoutes, Intent } from '../../../core/plugin-api/index.js';
import { BridgeProvisioning } from '../../../core/provisioning/BridgeProvisioning.js';
import { OpenIdVerifier } from '../../../core/provisioning/OpenIdVerifier.js';

const answering = (sub: string | null, calls: string[]): typeof fetch =>
  (async (url: string | URL | Request) => {
    calls.push(String(url));
    return sub === null ? new Response('{"errcode":"M_UNKNOWN_TOKEN"}', { status: 401 }) : Response.json({ sub });
  }) as typeof fetch;

describe('OpenIdVerifier', () => {
  it('asks the homeserver once per token while the answer is cached', async () => {
    const calls: string[] = [];
    const verifier = new OpenIdVerifier({ homeserverUrl: 'http://hs.test/', serverName: 'hs.test', fetch: answering('@alice:hs.test', calls) });
    expect(await verifier.userOf('t0k')).toBe('@alice:hs.test');
    expect(await verifier.userOf('t0k')).toBe('@alice:hs.test');
    expect(calls).toEqual(['http://hs.test/_matrix/federation/v1/openid/userinfo?access_token=t0k']);
  });

  it('refuses an unknown token, and a user of another server', async () => {
    const unknown = new OpenIdVerifier({ homeserverUrl: 'http://hs.test', serverName: 'hs.test', fetch: answering(null, []) });
    await expect(unknown.userOf('x')).rejects.toMatchObject({ status: 401, errcode: 'M_UNKNOWN_TOKEN' });
    const foreign = new OpenIdVerifier({ homeserverUrl: 'http://hs.test', serverName: 'hs.test', fetch: answering('@mallory:evil.test', []) });
    await expect(foreign.userOf('x')).rejects.toMatchObject({ status: 401, errcode: 'M_UNKNOWN_TOKEN' });
  });

  it('answers 503 when the homeserver cannot be reached, and asks again next time', async () => {
    let up = false;
    const verifier = new OpenIdVerifier({
      homeserverUrl: 'http://hs.test',
      serverName: 'hs.test',
      fetch: (async () => {
        if (!up) throw new TypeError('fetch failed');
        return Response.json({ sub: '@alice:hs.test' });
      }) as typeof fetch,
    });
    await expect(verifier.userOf('t')).rejects.toMatchObject({ status: 503, errcode: 'M_UNKNOWN' });
    up = true;
    expect(await verifier.userOf('t')).toBe('@alice:hs.test');
  });
});

describe('provisioning settings', () => {
  it('a shared secret shorter than 16 characters is refused when mounting', () => {
    const provisioning = new BridgeProvisioning({
      http: {} as HttpRoutes,
      bot: {} as Intent,
      openId: new OpenIdVerifier({ homeserverUrl: 'http://hs.test', serverName: 'hs.test' }),
      logger: pino({ level: 'silent' }),
    });
    expect(() => provisioning.mount({ prefix: '/_matrix/provision/v1', sharedSecret: 'short' })).toThrow(/at least 16 characters/);
  });

  it('the IRC bridge names a bad provisioning secret at load without repeating it', async () => {
    const builtins: BuiltinBridgeRegistry = { irc: async () => (await import('../../../bridges/irc/index.js')).default };
    const load = new PluginLoader({ builtins }).load({ irc: { enabled: true, networks: {}, provisioning: { enabled: true, shared_secret: 'hunter2' } } });
    const err = await load.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const text = (err as ConfigError).problems.join('\n');
    expect(text).toContain('bridges.irc.provisioning.shared_secret');
    expect(text).not.toContain('hunter2');
  });
});
