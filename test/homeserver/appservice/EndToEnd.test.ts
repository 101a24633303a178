// The appservice side inside the real embedded homeserver (startHomeserver), over HTTP end to end:
// registrations from a directory and a hot reload, identity assertion, typing reaching an appservice
// with receive_ephemeral (and not one without), invite_room_state on an invite of a ghost.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  enc,
  registerUser,
  startTestHomeserver,
  TestAppservice,
  waitFor,
  writeAppserviceRegistration,
  type TestHomeserver,
  type TestUser,
} from '../../harness/index.js';

describe('appservices in the embedded homeserver', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-as-e2e-'));
  const regDir = join(dir, 'registrations');
  const eph = new TestAppservice({ id: 'e2e-eph', prefix: '_eph_', protocol: 'ephproto', receiveEphemeral: true });
  const plain = new TestAppservice({ id: 'e2e-plain', prefix: '_plain_', protocol: 'plainproto' });
  const late = new TestAppservice({ id: 'e2e-late', prefix: '_late_', protocol: 'lateproto' });
  // Says "no such user" to every query, its own sender included: the homeserver must not need to ask.
  const quiet = new TestAppservice({ id: 'e2e-quiet', prefix: '_quiet_', protocol: 'quietproto', refusesUser: () => true });
  let hs: TestHomeserver;
  let alice: TestUser;
  let roomId = '';

  beforeAll(async () => {
    mkdirSync(regDir);
    for (const as of [eph, plain, late, quiet]) await as.start();
    await writeAppserviceRegistration(eph, regDir);
    await writeAppserviceRegistration(plain, regDir);
    await writeAppserviceRegistration(quiet, regDir);
    hs = await startTestHomeserver({ storage: { kind: 'sqlite', path: join(dir, 'hs.sqlite') }, mediaDir: join(dir, 'media'), appserviceConfigFiles: [regDir] });
    for (const as of [eph, plain, late, quiet]) as.homeserverUrl = hs.url;
    alice = await registerUser(hs.url, 'alice');
    const created = await alice.http.post<{ room_id: string }>('/createRoom', { name: 'Both bridged', invite: [eph.senderUserId, plain.senderUserId] });
    expect(created.status).toBe(200);
    roomId = created.body.room_id;
    for (const as of [eph, plain]) expect((await as.http.post(`/rooms/${enc(roomId)}/join`, {})).status).toBe(200);
  });

  afterAll(async () => {
    await hs?.stop();
    for (const as of [eph, plain, late, quiet]) await as.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends typing only to the appservice with receive_ephemeral', async () => {
    const typing = await alice.http.put(`/rooms/${enc(roomId)}/typing/${enc(alice.userId)}`, { typing: true, timeout: 30_000 });
    expect(typing.status).toBe(200);
    const sent = await alice.http.put<{ event_id: string }>(`/rooms/${enc(roomId)}/send/m.room.message/after-typing`, { msgtype: 'm.text', body: 'after typing' });
    expect(sent.status).toBe(200);
    await waitFor(
      () => eph.accepted.some((t) => t.ephemeral.some((e) => (e as { type?: string }).type === 'm.typing')),
      20_000,
      'm.typing at the appservice with receive_ephemeral',
    );
    const typingEvent = eph.accepted.flatMap((t) => t.ephemeral).find((e) => (e as { type?: string }).type === 'm.typing') as {
      room_id: string;
      content: { user_ids: string[] };
    };
    expect(typingEvent.room_id).toBe(roomId);
    expect(typingEvent.content.user_ids).toContain(alice.userId);
    await waitFor(() => plain.events.some((e) => e.event_id === sent.body.event_id), 20_000, 'the message at the plain appservice');
    expect(plain.accepted.every((t) => t.ephemeral.length === 0)).toBe(true);
  });

  it('an appservice\'s sender exists before it ever acts: a new room may invite it, and nobody asks the appservice', async () => {
    const created = await alice.http.post<{ room_id: string }>('/createRoom', { name: 'Invites the bot first', invite: [quiet.senderUserId] });
    expect(created.status).toBe(200);
    expect(quiet.userQueries).toEqual([]);
    expect((await quiet.http.post(`/rooms/${enc(created.body.room_id)}/join`, {})).status).toBe(200);
    expect((await alice.http.get(`/profile/${enc(quiet.senderUserId)}`)).status).toBe(200);
  });

  it('gives an invited ghost the room\'s stripped state', async () => {
    const ghost = `@_plain_ghost:${hs.serverName}`;
    const res = await alice.http.post(`/rooms/${enc(roomId)}/invite`, { user_id: ghost });
    expect(res.status).toBe(200);
    const invite = await waitFor(
      () => plain.events.find((e) => e.type === 'm.room.member' && e.state_key === ghost && e.content['membership'] === 'invite'),
      20_000,
      'the ghost\'s invite',
    );
    const state = invite.unsigned?.['invite_room_state'] as Array<{ type: string }> | undefined;
    expect(state?.some((s) => s.type === 'm.room.create')).toBe(true);
  });

  it('loads a registration dropped into the directory on reloadAppservices(), and refuses a broken one', async () => {
    expect((await late.http.get('/account/whoami')).status).toBe(401);
    await writeAppserviceRegistration(late, regDir);
    await hs.running.reloadAppservices();
    const whoami = await late.http.get<{ user_id: string }>('/account/whoami');
    expect(whoami.status).toBe(200);
    expect(whoami.body.user_id).toBe(late.senderUserId);
    const ping = await late.http.post('/_matrix/client/v1/appservice/e2e-late/ping', { transaction_id: 'late-1' });
    expect(ping.status).toBe(200);
    expect(late.pings).toContainEqual({ transaction_id: 'late-1' });

    writeFileSync(join(regDir, 'zz-broken.yaml'), 'id: [\n');
    await expect(hs.running.reloadAppservices()).rejects.toThrow(/zz-broken\.yaml/);
    expect((await late.http.get('/account/whoami')).status).toBe(200);
    rmSync(join(regDir, 'zz-broken.yaml'));
  });
});
