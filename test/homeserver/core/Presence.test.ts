// Presence as clients expect it: syncing makes a user online (set_presence unavailable and offline as
// the spec says), room members see it in /sync with last_active_ago and currently_active, idle users go
// unavailable and come back on activity, users whose syncs stopped go offline; an appservice sets its
// ghosts' presence by masquerading, and that stays as set.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpecValidator } from '../../harness/SpecValidator.js';
import { waitFor } from '../../../testkit/waitFor.js';
import { CoreClient, enc, type CoreUser } from './coreHarness.js';

const spec = SpecValidator.load();
const AS_TOKEN = 'as-token-presence';

interface Presence {
  presence: string;
  last_active_ago?: number;
  currently_active?: boolean;
  status_msg?: string;
}

describe('presence', () => {
  let dir: string;
  let c: CoreClient;
  let alice: CoreUser;
  let bob: CoreUser;
  let carol: CoreUser;
  let roomId = '';

  const status = async (user: CoreUser, of: string): Promise<Presence> => {
    const r = await c.call('GET', `/presence/${enc(of)}/status`, { token: user.token });
    if (spec) expect(await spec.validateResponse('client-server/presence.yaml', '/presence/{userId}/status', 'get', r.status, r.body)).toEqual([]);
    return r.body as unknown as Presence;
  };
  const seenBy = async (user: CoreUser, since?: string): Promise<{ next: string; presence: Map<string, Presence> }> => {
    const s = await c.sync(user, { set_presence: 'offline', ...(since && { since }) });
    return { next: s.next_batch, presence: new Map(s.presence.events.map((e) => [e.sender, e.content as unknown as Presence])) };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pb-presence-'));
    const registration = join(dir, 'bridge.yaml');
    writeFileSync(
      registration,
      [
        'id: presence-bridge',
        'url: null',
        `as_token: ${AS_TOKEN}`,
        'hs_token: hs-token-presence',
        'sender_localpart: presencebot',
        'namespaces:',
        '  users:',
        "    - { regex: '@_ghost_.*:core\\.test', exclusive: true }",
        '  aliases: []',
        '  rooms: []',
      ].join('\n'),
    );
    c = await CoreClient.start({ appserviceConfigFiles: [registration], presence: { idleMs: 1_500, offlineMs: 1_000 } });
    alice = await c.register('alice');
    bob = await c.register('bob');
    carol = await c.register('carol');
    roomId = await c.createRoom(bob, { preset: 'public_chat' });
    for (const u of [alice, carol]) await c.ok('POST', `/rooms/${enc(roomId)}/join`, { token: u.token, body: {} });
  });
  afterAll(async () => {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('puts a syncing user online for the people they share a room with; set_presence=offline does not', async () => {
    const before = await seenBy(bob);
    await c.sync(carol, { set_presence: 'offline' });
    expect((await status(bob, carol.userId)).presence).toBe('offline');
    await c.sync(alice);
    const online = await status(bob, alice.userId);
    expect(online).toMatchObject({ presence: 'online', currently_active: true });
    expect(online.last_active_ago).toBeGreaterThanOrEqual(0);
    const seen = await seenBy(bob, before.next);
    expect(seen.presence.get(alice.userId)).toMatchObject({ presence: 'online', currently_active: true });
    expect(seen.presence.has(carol.userId)).toBe(false);

    await c.sync(carol, { set_presence: 'unavailable' });
    expect(await status(bob, carol.userId)).toMatchObject({ presence: 'unavailable', currently_active: false });
    expect((await seenBy(bob, seen.next)).presence.get(carol.userId)).toMatchObject({ presence: 'unavailable' });
  });

  it('goes unavailable when idle while syncing, back online on sending, and offline once syncs stop', async () => {
    await c.ok('PUT', `/presence/${enc(alice.userId)}/status`, { token: alice.token, body: { presence: 'online' } });
    // A long poll keeps alice syncing while she sends nothing.
    const polling = (async () => {
      const first = await c.sync(alice);
      let since = first.next_batch;
      while ((await status(bob, alice.userId)).presence === 'online') since = (await c.sync(alice, { since, timeout: '300' })).next_batch;
      return since;
    })();
    const since = await polling;
    expect(await status(bob, alice.userId)).toMatchObject({ presence: 'unavailable', currently_active: false });
    await c.sync(alice, { since });
    expect((await status(bob, alice.userId)).presence).toBe('unavailable');
    await c.send(alice, roomId, 'back');
    expect(await status(bob, alice.userId)).toMatchObject({ presence: 'online', currently_active: true });
    await waitFor(async () => (await status(bob, alice.userId)).presence === 'offline', 20_000, 'alice offline');
  });

  it('lets an appservice set its ghosts\' presence by masquerading, and keeps it while the ghost never syncs', async () => {
    const ghost = '@_ghost_dave:core.test';
    const asGhost = (method: string, path: string, body?: unknown) => c.call(method, `${path}?user_id=${enc(ghost)}`, { token: AS_TOKEN, body });
    expect((await c.call('POST', '/register', { token: AS_TOKEN, body: { type: 'm.login.application_service', username: '_ghost_dave' } })).status).toBe(200);
    expect((await asGhost('POST', `/rooms/${enc(roomId)}/join`, {})).status).toBe(200);
    const before = await seenBy(bob);
    expect((await asGhost('PUT', `/presence/${enc(ghost)}/status`, { presence: 'online', status_msg: 'on IRC' })).status).toBe(200);
    expect((await asGhost('PUT', `/presence/${enc(alice.userId)}/status`, { presence: 'offline' })).status).toBe(403);
    expect((await seenBy(bob, before.next)).presence.get(ghost)).toMatchObject({ presence: 'online', status_msg: 'on IRC' });
    // Carol syncs once: the timeouts take her offline, the ghost stays.
    await c.sync(carol);
    await waitFor(async () => (await status(bob, carol.userId)).presence === 'offline', 20_000, 'carol offline');
    expect(await status(bob, ghost)).toMatchObject({ presence: 'online', status_msg: 'on IRC' });
  });
});
