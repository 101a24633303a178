// What clients are told about encryption, and that the homeserver never turns it on by itself: the
// config's homeserver.e2ee becomes `io.element.e2ee` in .well-known/matrix/client of a real
// `patchbay homeserver`, and a DM a bridge ghost creates has no m.room.encryption unless someone asks.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PatchbayProcess } from '../../e2e/PatchbayProcess.js';
import {
  enc,
  MatrixHttpClient,
  registerUser,
  startTestHomeserver,
  TestAppservice,
  writeAppserviceRegistration,
  type TestHomeserver,
} from '../../harness/index.js';
import { conforms } from './e2eeFixtures.js';

describe('io.element.e2ee in .well-known, from the config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-wellknown-'));
  const running: PatchbayProcess[] = [];
  afterAll(async () => {
    for (const p of running) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A `patchbay homeserver` with the given homeserver settings (YAML lines under `homeserver:`). */
  const serve = async (extra: string): Promise<MatrixHttpClient> => {
    const file = join(dir, `config-${running.length}.yaml`);
    writeFileSync(file, `data_dir: data${running.length}\nhomeserver:\n  port: 0\n  storage: memory\n${extra}`);
    const p = PatchbayProcess.start(['homeserver', '--config', file], { cwd: dir });
    running.push(p);
    const [, url] = await p.waitForLine(/serving (http:\/\/\S+)/);
    return new MatrixHttpClient(url!);
  };

  it('advertises the shipped default: new DMs encrypted, encryption not disabled', async () => {
    const http = await serve('');
    const body = await conforms('client-server/wellknown.yaml', '/matrix/client', 'get', await http.get('/.well-known/matrix/client'));
    expect(body).toMatchObject({ 'io.element.e2ee': { default: true, force_disable: false } });
  });

  it('advertises what the operator set', async () => {
    const http = await serve('  e2ee:\n    default: false\n    force_disable: true\n');
    expect((await http.get('/.well-known/matrix/client')).body).toMatchObject({ 'io.element.e2ee': { default: false, force_disable: true } });
  });

  it('refuses a value that is not true or false, naming the key', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'homeserver:\n  e2ee:\n    default: sometimes\n');
    const r = await PatchbayProcess.run(['homeserver', '--config', file], { cwd: dir });
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/homeserver\.e2ee\.default: "sometimes" is not true or false\. Fix: /);
  });
});

describe('rooms are encrypted only when someone asks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-dm-'));
  const bridge = new TestAppservice({ id: 'dm-bridge', prefix: '_dm_' });
  let hs: TestHomeserver;
  beforeAll(async () => {
    await bridge.start();
    hs = await startTestHomeserver({ appserviceConfigFiles: [await writeAppserviceRegistration(bridge, dir)] });
    bridge.homeserverUrl = hs.url;
  });
  afterAll(async () => {
    await hs?.stop();
    await bridge.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a ghost\'s DM (trusted_private_chat, is_direct) and every preset without m.room.encryption', async () => {
    const alice = await registerUser(hs.url, 'alice');
    const ghost = `@_dm_nick:${hs.serverName}`;
    await bridge.http.ok('POST', '/register', { body: { type: 'm.login.application_service', username: '_dm_nick', inhibit_login: true } });
    const dm = await bridge.http.ok<{ room_id: string }>('POST', '/createRoom', {
      body: { is_direct: true, preset: 'trusted_private_chat', invite: [alice.userId], name: 'nick (IRC)' },
      query: { user_id: ghost },
    });
    const inDm = await bridge.http.get(`/rooms/${enc(dm.room_id)}/state/m.room.encryption/`, { query: { user_id: ghost } });
    expect(inDm.status).toBe(404);
    for (const preset of ['private_chat', 'trusted_private_chat', 'public_chat']) {
      const roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset, is_direct: preset !== 'public_chat' } })).room_id;
      expect([preset, (await alice.http.get(`/rooms/${enc(roomId)}/state/m.room.encryption/`)).status]).toEqual([preset, 404]);
    }
    const asked = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', {
      body: { preset: 'private_chat', initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }] },
    });
    expect(await alice.http.ok('GET', `/rooms/${enc(asked.room_id)}/state/m.room.encryption/`)).toEqual({ algorithm: 'm.megolm.v1.aes-sha2' });
  });
});
