// Which events and ephemeral updates reach which appservice (spec interest rules), checked by what a
// real appservice over HTTP receives. Each case ends with a marker event the appservice certainly
// wants, so "not delivered" is decided once everything before the marker was.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../../testkit/waitFor.js';
import { makeService, registrationFor, ScriptedAppservice, SERVER, writeRegistration, type ServiceUnderTest } from './fakes.js';

describe('interest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-as-interest-'));
  const a = new ScriptedAppservice();
  const eph = new ScriptedAppservice();
  const plain = new ScriptedAppservice();
  const legacyEph = new ScriptedAppservice();
  let sut: ServiceUnderTest;
  const bot = `@_ia_bot:${SERVER}`;
  const marker = (): string => sut.stream.append({ room_id: `!marker:${SERVER}`, sender: `@_ia_marker:${SERVER}` })[0]!.event_id;
  const delivered = (as: ScriptedAppservice): string[] => as.transactions().flatMap((t) => t.body.events.map((e) => e.event_id));

  beforeAll(async () => {
    for (const s of [a, eph, plain, legacyEph]) await s.start();
    const files = [
      writeRegistration(
        dir,
        registrationFor('ia', a.url, {
          namespaces: {
            users: [
              { regex: `@_ia_.*:test\\.local`, exclusive: true },
              { regex: `@shared_.*:test\\.local`, exclusive: false },
            ],
            aliases: [{ regex: `#_ia_.*:test\\.local`, exclusive: true }],
            rooms: [{ regex: `!bridged.*`, exclusive: false }],
          },
        }),
      ),
      writeRegistration(dir, registrationFor('eph', eph.url, { receive_ephemeral: true })),
      writeRegistration(dir, registrationFor('plain', plain.url)),
      writeRegistration(dir, registrationFor('legacyeph', legacyEph.url, { 'de.sorunome.msc2409.push_ephemeral': true })),
    ];
    sut = makeService(files);
    await sut.service.start();
  });

  afterAll(async () => {
    await sut.service.stop();
    for (const s of [a, eph, plain, legacyEph]) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers exactly the events the spec says it is interested in', async () => {
    const { stream } = sut;
    stream.aliases.set(`!aliased:${SERVER}`, [`#_ia_room:${SERVER}`]);
    stream.aliases.set(`!foreignalias:${SERVER}`, [`#elsewhere:${SERVER}`]);
    stream.members.set(`!ghosted:${SERVER}`, [`@alice:${SERVER}`, `@_ia_ghost:${SERVER}`]);
    stream.members.set(`!botroom:${SERVER}`, [`@alice:${SERVER}`, bot]);
    stream.members.set(`!sharedroom:${SERVER}`, [`@shared_x:${SERVER}`]);
    stream.members.set(`!plain:${SERVER}`, [`@alice:${SERVER}`, `@bob:${SERVER}`]);
    const wanted = stream.append(
      { room_id: `!plain:${SERVER}`, sender: `@_ia_ghost:${SERVER}` }, // sender in namespace
      { room_id: `!plain:${SERVER}`, sender: bot }, // its sender
      { room_id: `!plain:${SERVER}`, type: 'm.room.member', state_key: `@_ia_new:${SERVER}`, content: { membership: 'invite' } },
      { room_id: `!bridged1:${SERVER}` }, // rooms namespace
      { room_id: `!aliased:${SERVER}` }, // an alias of the room
      { room_id: `!ghosted:${SERVER}` }, // a joined local member in the namespace
      { room_id: `!botroom:${SERVER}` }, // its sender is joined
      { room_id: `!sharedroom:${SERVER}` }, // a non-exclusive namespace counts too
    );
    const unwanted = stream.append(
      { room_id: `!plain:${SERVER}`, sender: `@alice:${SERVER}` },
      { room_id: `!plain:${SERVER}`, type: 'm.room.member', state_key: `@bob:${SERVER}`, content: { membership: 'join' } },
      { room_id: `!foreignalias:${SERVER}` },
      // Anchored at the start: the namespace regex must not match in the middle of an id.
      { room_id: `!plain:${SERVER}`, sender: `@x_ia_ghost:${SERVER}` },
      { room_id: `!notbridged:${SERVER}` },
    );
    const last = marker();
    await waitFor(() => delivered(a).includes(last), 10_000, 'the marker');
    const got = delivered(a);
    for (const e of wanted) expect(got).toContain(e.event_id);
    for (const e of unwanted) expect(got).not.toContain(e.event_id);
  });

  it('adds invite_room_state to invites of its users', async () => {
    const room = `!invited:${SERVER}`;
    const stripped = [{ type: 'm.room.name', state_key: '', sender: `@alice:${SERVER}`, content: { name: 'Hello' } }];
    sut.stream.stripped.set(room, stripped);
    const [invite] = sut.stream.append({
      room_id: room,
      sender: `@alice:${SERVER}`,
      type: 'm.room.member',
      state_key: `@_ia_invitee:${SERVER}`,
      content: { membership: 'invite' },
    });
    await waitFor(() => delivered(a).includes(invite!.event_id), 10_000, 'the invite');
    const got = a.transactions().flatMap((t) => t.body.events).find((e) => e.event_id === invite!.event_id);
    expect(got?.unsigned?.['invite_room_state']).toEqual(stripped);
  });

  it('sends ephemeral events only to appservices with receive_ephemeral (or its unstable name)', async () => {
    const room = `!typing:${SERVER}`;
    // All four are interested in the room: one of each one's users is joined.
    sut.stream.members.set(room, [`@_eph_x:${SERVER}`, `@_plain_x:${SERVER}`, `@_legacyeph_x:${SERVER}`, `@_ia_x:${SERVER}`]);
    sut.service.pushEphemeral({ type: 'm.typing', room_id: room, content: { user_ids: [`@alice:${SERVER}`] } });
    // A room event after it, for everyone: whatever ephemeral data was queued goes no later than it.
    const [after] = sut.stream.append({ room_id: room, sender: `@alice:${SERVER}` });
    for (const s of [eph, plain, legacyEph]) {
      await waitFor(() => delivered(s).includes(after!.event_id), 10_000, 'the room event');
    }
    const ephemeralOf = (s: ScriptedAppservice): unknown[] => s.transactions().flatMap((t) => t.body.ephemeral ?? []);
    expect(ephemeralOf(eph)).toEqual([{ type: 'm.typing', room_id: room, content: { user_ids: [`@alice:${SERVER}`] } }]);
    expect(ephemeralOf(legacyEph)).toHaveLength(1);
    expect(ephemeralOf(plain)).toEqual([]);
    expect(plain.transactions().every((t) => !('de.sorunome.msc2409.ephemeral' in t.body))).toBe(true);
    // The unstable key carries the same list, for older appservice libraries.
    const withEph = eph.transactions().find((t) => t.body.ephemeral !== undefined)!;
    expect(withEph.body['de.sorunome.msc2409.ephemeral']).toEqual(withEph.body.ephemeral);
  });

  it('does not send ephemeral events of rooms the appservice has no interest in, and keeps private receipts private', async () => {
    eph.received.length = 0;
    const room = `!receipts:${SERVER}`;
    sut.stream.members.set(room, [`@_eph_x:${SERVER}`, `@alice:${SERVER}`]);
    sut.service.pushEphemeral({ type: 'm.typing', room_id: `!elsewhere:${SERVER}`, content: { user_ids: [] } });
    sut.service.pushEphemeral({
      type: 'm.receipt',
      room_id: room,
      content: {
        $ev: {
          'm.read': { [`@alice:${SERVER}`]: { ts: 1 } },
          'm.read.private': { [`@alice:${SERVER}`]: { ts: 2 }, [`@_eph_x:${SERVER}`]: { ts: 3 } },
        },
      },
    });
    await waitFor(() => eph.transactions().some((t) => (t.body.ephemeral ?? []).length > 0), 10_000, 'the receipt');
    const all = eph.transactions().flatMap((t) => t.body.ephemeral ?? []);
    expect(all).toEqual([
      {
        type: 'm.receipt',
        room_id: room,
        content: { $ev: { 'm.read': { [`@alice:${SERVER}`]: { ts: 1 } }, 'm.read.private': { [`@_eph_x:${SERVER}`]: { ts: 3 } } } },
      },
    ]);
  });

  it('retries ephemeral events like room events (same txnId, same body)', async () => {
    eph.received.length = 0;
    let failures = 1;
    eph.respond = (r) => (r.method === 'PUT' && failures-- > 0 ? { status: 500, body: {} } : { status: 200, body: {} });
    sut.service.pushEphemeral({ type: 'm.presence', sender: `@_eph_y:${SERVER}`, content: { presence: 'online' } });
    await waitFor(() => eph.transactions().length >= 2, 10_000, 'a failure and a retry');
    const [failed, retried] = eph.transactions();
    expect(retried!.txnId).toBe(failed!.txnId);
    expect(retried!.raw).toBe(failed!.raw);
    expect(retried!.body.ephemeral).toEqual([{ type: 'm.presence', sender: `@_eph_y:${SERVER}`, content: { presence: 'online' } }]);
  });
});
