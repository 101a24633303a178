// Two Patchbay homeservers as an operator runs them (docs/federation.md, "Turning it on" and "Two servers
// on one machine"): a YAML file each, `patchbay homeserver --config …` as real processes, a.test and b.test
// naming each other in federation.peers. matrix-js-sdk users on each side, with /sync running, share rooms
// both ways: invites, joins by room id, messages, typing, read receipts, edits, reactions, redactions,
// threads, media, upgrades, leaves, kicks and bans, and each server stopped and restarted mid-conversation.
// Only the client API is used, and A's /metrics to see what A sends B after B's last member left a room.
// Not here: remote aliases, knocks, encryption (other suites).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as sdk from 'matrix-js-sdk';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loginUser, registerUser, startSdkClient, waitFor } from '../harness/index.js';
import { freePort, PatchbayProcess } from './PatchbayProcess.js';

const READY = /^patchbay homeserver: serving (http:\/\/\S+)/;
const WAIT = 30_000;

interface Server {
  name: string;
  dir: string;
  port: number;
  metricsPort: number;
  url: string;
}

/** Every process a suite started, for the cleanup. */
const processes: PatchbayProcess[] = [];

async function startServer(server: Server): Promise<PatchbayProcess> {
  const p = PatchbayProcess.start(['homeserver', '--config', 'homeserver.yaml'], { cwd: server.dir });
  processes.push(p);
  expect((await p.waitForLine(READY))[1]).toBe(server.url);
  return p;
}

/** The config file an operator writes for one of two servers on this machine. */
function configFor(self: Server, peer: Server): string {
  return [
    'data_dir: ./data',
    'logging: { level: info, format: json }',
    'homeserver:',
    `  server_name: ${self.name}`,
    `  port: ${self.port}`,
    `  public_base_url: http://127.0.0.1:${self.port}`,
    `  metrics: { port: ${self.metricsPort} }`,
    '  federation:',
    '    enabled: true',
    `    peers: { ${peer.name}: "http://127.0.0.1:${peer.port}" }`,
    '',
  ].join('\n');
}

/** Message bodies in a room's live timeline as the client holds it. */
function bodies(client: sdk.MatrixClient, roomId: string): string[] {
  return (client.getRoom(roomId)?.getLiveTimeline().getEvents() ?? [])
    .filter((e) => e.getType() === 'm.room.message')
    .map((e) => String(e.getContent().body));
}

/**
 * Message bodies of the room as its server has them, oldest first, through the client's /messages: after
 * a burst a client's /sync is `limited` (10 events by default) and the SDK starts its live timeline over.
 */
async function history(client: sdk.MatrixClient, roomId: string, prefix: string): Promise<string[]> {
  const page = await client.createMessagesRequest(roomId, null, 100, sdk.Direction.Backward);
  return page.chunk
    .filter((e) => e.type === 'm.room.message')
    .map((e) => String(e.content['body']))
    .filter((b) => b.startsWith(prefix))
    .reverse();
}

function membershipOf(client: sdk.MatrixClient, roomId: string, userId: string): string | undefined {
  return client.getRoom(roomId)?.getMember(userId)?.membership;
}

/** A counter of the homeserver's /metrics, summed over the series whose labels include all of `labels`. */
async function metric(server: Server, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const series = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => series[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

describe('two patchbay homeserver processes federating, used through matrix-js-sdk', () => {
  const root = mkdtempSync(join(tmpdir(), 'patchbay-federation-'));
  const a: Server = { name: 'a.test', dir: join(root, 'a'), port: 0, metricsPort: 0, url: '' };
  const b: Server = { name: 'b.test', dir: join(root, 'b'), port: 0, metricsPort: 0, url: '' };
  const clients: sdk.MatrixClient[] = [];
  let alice: sdk.MatrixClient;
  let bob: sdk.MatrixClient;
  let aliceId = '';
  let bobId = '';
  let roomOnA = '';
  let roomOnB = '';
  let aProcess: PatchbayProcess;
  let bProcess: PatchbayProcess;

  beforeAll(async () => {
    for (const server of [a, b]) {
      server.port = await freePort();
      server.metricsPort = await freePort();
      server.url = `http://127.0.0.1:${server.port}`;
      mkdirSync(server.dir);
    }
    writeFileSync(join(a.dir, 'homeserver.yaml'), configFor(a, b));
    writeFileSync(join(b.dir, 'homeserver.yaml'), configFor(b, a));
    [aProcess, bProcess] = await Promise.all([startServer(a), startServer(b)]);
    const aliceAccount = await registerUser(a.url, 'alice');
    const bobAccount = await registerUser(b.url, 'bob');
    [aliceId, bobId] = [aliceAccount.userId, bobAccount.userId];
    alice = await startSdkClient(a.url, aliceAccount);
    clients.push(alice);
    bob = await startSdkClient(b.url, bobAccount);
    clients.push(bob);
  }, 90_000);

  afterAll(async () => {
    for (const client of clients) client.stopClient();
    const running = processes.filter((p) => p.running);
    for (const p of running) p.signal('SIGTERM');
    const stopped = Promise.all(running.map((p) => p.exited));
    const late = await Promise.race([stopped.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 10_000).unref())]);
    // Whatever happened above: nothing of either server outlives the suite.
    for (const p of processes) p.killGroup();
    if (late) await stopped;
    rmSync(root, { recursive: true, force: true });
  }, 30_000);

  it('each server names itself and its users by its server_name', () => {
    expect(aliceId).toBe('@alice:a.test');
    expect(bobId).toBe('@bob:b.test');
  });

  it('alice on A makes a room and invites bob on B; bob sees the invite and joins', async () => {
    roomOnA = (await alice.createRoom({ name: 'Made on A', topic: 'across servers', preset: sdk.Preset.PrivateChat })).room_id;
    await alice.sendTextMessage(roomOnA, 'before the invite');
    await alice.invite(roomOnA, bobId);
    const invited = await waitFor(() => {
      const room = bob.getRoom(roomOnA);
      return room?.getMyMembership() === sdk.KnownMembership.Invite ? room : null;
    }, WAIT, 'the invite in bob\'s sync');
    expect(invited.getMember(bobId)?.events.member?.getSender()).toBe(aliceId);
    expect(invited.name).toBe('Made on A');
    await bob.joinRoom(roomOnA);
    await waitFor(() => membershipOf(alice, roomOnA, bobId) === sdk.KnownMembership.Join, WAIT, 'bob joined, at alice');
    await waitFor(() => bob.getRoom(roomOnA)?.getMyMembership() === sdk.KnownMembership.Join, WAIT, 'bob joined, at bob');
    const room = bob.getRoom(roomOnA)!;
    expect(room.name).toBe('Made on A');
    expect(room.currentState.getStateEvents('m.room.topic', '')?.getContent().topic).toBe('across servers');
    expect(membershipOf(bob, roomOnA, aliceId)).toBe(sdk.KnownMembership.Join);
  });

  it('messages cross both ways, in the order sent', async () => {
    await alice.sendTextMessage(roomOnA, 'hello bob');
    await waitFor(() => bodies(bob, roomOnA).includes('hello bob'), WAIT, 'alice\'s message at bob');
    await bob.sendTextMessage(roomOnA, 'hello alice');
    await waitFor(() => bodies(alice, roomOnA).includes('hello alice'), WAIT, 'bob\'s message at alice');
    const atBob = bob.getRoom(roomOnA)!.getLiveTimeline().getEvents().find((e) => e.getContent().body === 'hello bob');
    expect(atBob?.getSender()).toBe(aliceId);
    expect(atBob?.getId()).toMatch(/^\$[A-Za-z0-9_-]{43}$/);

    const sent = Array.from({ length: 10 }, (_, i) => `ordered ${i}`);
    for (const body of sent) await alice.sendTextMessage(roomOnA, body);
    await waitFor(async () => (await history(bob, roomOnA, 'ordered ')).length === sent.length, WAIT, 'ten messages at bob');
    expect(await history(bob, roomOnA, 'ordered ')).toEqual(sent);
    expect(await history(alice, roomOnA, '')).toEqual(['before the invite', 'hello bob', 'hello alice', ...sent]);
  });

  // From before his join, B has only the room's state: paging back fetches the earlier messages from A
  // (backfill; the room's history_visibility, shared, lets bob see them).
  it('a new client of bob scrolls back through the room\'s history on B, in order, to its start', async () => {
    const late = await startSdkClient(b.url, await loginUser(b.url, 'bob'), { initialSyncLimit: 3 });
    clients.push(late);
    const room = await waitFor(() => late.getRoom(roomOnA), WAIT, 'the room in bob\'s new client');
    expect(bodies(late, roomOnA).length).toBeLessThan(12);
    for (let page = 0; page < 20 && room.oldState.paginationToken !== null; page += 1) await late.scrollback(room, 5);
    expect(room.oldState.paginationToken).toBeNull();
    const sinceJoin = ['hello bob', 'hello alice', ...Array.from({ length: 10 }, (_, i) => `ordered ${i}`)];
    expect(bodies(late, roomOnA)).toEqual(['before the invite', ...sinceJoin]);
    late.stopClient();
  });

  it('typing notifications cross both ways', async () => {
    await alice.sendTyping(roomOnA, true, 20_000);
    await waitFor(() => bob.getRoom(roomOnA)?.getMember(aliceId)?.typing === true, WAIT, 'alice typing, at bob');
    await alice.sendTyping(roomOnA, false, 0);
    await waitFor(() => bob.getRoom(roomOnA)?.getMember(aliceId)?.typing === false, WAIT, 'alice stopped, at bob');
    await bob.sendTyping(roomOnA, true, 20_000);
    await waitFor(() => alice.getRoom(roomOnA)?.getMember(bobId)?.typing === true, WAIT, 'bob typing, at alice');
    await bob.sendTyping(roomOnA, false, 0);
    await waitFor(() => alice.getRoom(roomOnA)?.getMember(bobId)?.typing === false, WAIT, 'bob stopped, at alice');
  });

  it('read receipts cross both ways', async () => {
    await alice.sendTextMessage(roomOnA, 'read me, bob');
    await waitFor(() => bodies(bob, roomOnA).includes('read me, bob'), WAIT, 'the message at bob');
    const atBob = bob.getRoom(roomOnA)!.getLiveTimeline().getEvents().find((e) => e.getContent().body === 'read me, bob')!;
    await bob.sendReadReceipt(atBob);
    await waitFor(() => alice.getRoom(roomOnA)?.getEventReadUpTo(bobId) === atBob.getId(), WAIT, 'bob\'s receipt, at alice');

    await bob.sendTextMessage(roomOnA, 'read me, alice');
    await waitFor(() => bodies(alice, roomOnA).includes('read me, alice'), WAIT, 'the message at alice');
    const atAlice = alice.getRoom(roomOnA)!.getLiveTimeline().getEvents().find((e) => e.getContent().body === 'read me, alice')!;
    await alice.sendReadReceipt(atAlice);
    await waitFor(() => bob.getRoom(roomOnA)?.getEventReadUpTo(aliceId) === atAlice.getId(), WAIT, 'alice\'s receipt, at bob');
  });

  it('B stops while alice writes; after its restart bob gets every message, in order, and answers', async () => {
    expect(await bProcess.stop()).toBe(0);
    const sent = Array.from({ length: 5 }, (_, i) => `while B was down ${i}`);
    for (const body of sent) await alice.sendTextMessage(roomOnA, body);
    bProcess = await startServer(b);
    await waitFor(() => bodies(bob, roomOnA).includes(sent.at(-1)!), 60_000, 'the messages from the outage at bob');
    expect(await history(bob, roomOnA, 'while B was down')).toEqual(sent);
    await bob.sendTextMessage(roomOnA, 'B is back');
    await waitFor(() => bodies(alice, roomOnA).includes('B is back'), WAIT, 'bob\'s answer at alice');
  }, 150_000);

  it('A, the room\'s own server, stops while bob writes; after its restart alice gets every message, in order', async () => {
    expect(await aProcess.stop()).toBe(0);
    const sent = Array.from({ length: 5 }, (_, i) => `while A was down ${i}`);
    for (const body of sent) await bob.sendTextMessage(roomOnA, body);
    aProcess = await startServer(a);
    await waitFor(() => bodies(alice, roomOnA).includes(sent.at(-1)!), 60_000, 'the messages from the outage at alice');
    expect(await history(alice, roomOnA, 'while A was down')).toEqual(sent);
    await alice.sendTextMessage(roomOnA, 'A is back');
    await waitFor(() => bodies(bob, roomOnA).includes('A is back'), WAIT, 'alice\'s answer at bob');
  }, 150_000);

  it('bob on B makes a public room; alice on A joins it by room id through b.test', async () => {
    roomOnB = (await bob.createRoom({ name: 'Made on B', preset: sdk.Preset.PublicChat, visibility: sdk.Visibility.Public })).room_id;
    expect(roomOnB).toMatch(/:b\.test$/);
    await bob.sendTextMessage(roomOnB, 'welcome to B');
    await alice.joinRoom(roomOnB, { viaServers: ['b.test'] });
    await waitFor(() => alice.getRoom(roomOnB)?.getMyMembership() === sdk.KnownMembership.Join, WAIT, 'alice joined, at alice');
    await waitFor(() => membershipOf(bob, roomOnB, aliceId) === sdk.KnownMembership.Join, WAIT, 'alice joined, at bob');
    expect(alice.getRoom(roomOnB)?.name).toBe('Made on B');

    await alice.sendTextMessage(roomOnB, 'hi from A');
    await waitFor(() => bodies(bob, roomOnB).includes('hi from A'), WAIT, 'alice\'s message at bob');
    await bob.sendTextMessage(roomOnB, 'hi from B');
    await waitFor(() => bodies(alice, roomOnB).includes('hi from B'), WAIT, 'bob\'s message at alice');
    await alice.sendTyping(roomOnB, true, 20_000);
    await waitFor(() => bob.getRoom(roomOnB)?.getMember(aliceId)?.typing === true, WAIT, 'alice typing in B\'s room, at bob');
    await alice.sendTyping(roomOnB, false, 0);
  });

  it('edits, reactions and redactions of one server\'s user show at the other', async () => {
    const { event_id: original } = await alice.sendTextMessage(roomOnB, 'I like cake');
    await waitFor(() => bob.getRoom(roomOnB)?.findEventById(original), WAIT, 'the original at bob');
    await alice.sendMessage(roomOnB, {
      msgtype: sdk.MsgType.Text,
      body: '* I like chocolate cake',
      'm.new_content': { msgtype: sdk.MsgType.Text, body: 'I like chocolate cake' },
      'm.relates_to': { rel_type: sdk.RelationType.Replace, event_id: original },
    });
    await waitFor(() => bob.getRoom(roomOnB)?.findEventById(original)?.getContent().body === 'I like chocolate cake', WAIT, 'the edit at bob');

    const { event_id: reaction } = await bob.sendEvent(roomOnB, sdk.EventType.Reaction, {
      'm.relates_to': { rel_type: sdk.RelationType.Annotation, event_id: original, key: '🍰' },
    });
    const reactionAtAlice = await waitFor(() => alice.getRoom(roomOnB)?.findEventById(reaction), WAIT, 'the reaction at alice');
    expect(reactionAtAlice.getRelation()).toMatchObject({ rel_type: 'm.annotation', event_id: original, key: '🍰' });

    await alice.redactEvent(roomOnB, original);
    await waitFor(() => bob.getRoom(roomOnB)?.findEventById(original)?.isRedacted(), WAIT, 'the redaction at bob');
    const { event_id: fresh } = await bob.sendTextMessage(roomOnB, 'Bob on second thoughts');
    await bob.redactEvent(roomOnB, fresh);
    await waitFor(() => alice.getRoom(roomOnB)?.findEventById(fresh)?.isRedacted(), WAIT, 'bob\'s redaction at alice');
    const fetched = await fetch(`${a.url}/_matrix/client/v3/rooms/${encodeURIComponent(roomOnB)}/event/${encodeURIComponent(fresh)}`, {
      headers: { authorization: `Bearer ${alice.getAccessToken()}` },
    });
    expect(((await fetched.json()) as { content: unknown }).content).toEqual({});
  });

  it('a power level given on B lets alice change the room\'s topic from A', async () => {
    await bob.setPowerLevel(roomOnB, aliceId, 50);
    await waitFor(() => alice.getRoom(roomOnB)?.getMember(aliceId)?.powerLevel === 50, WAIT, 'alice\'s power level, at alice');
    await alice.setRoomTopic(roomOnB, 'set from A');
    await waitFor(() => bob.getRoom(roomOnB)?.currentState.getStateEvents('m.room.topic', '')?.getContent().topic === 'set from A', WAIT, 'the topic at bob');
  });

  it('a message from the other server counts as unread, and a mention highlights', async () => {
    const room = bob.getRoom(roomOnB)!;
    await bob.sendReadReceipt(room.getLiveTimeline().getEvents().at(-1)!);
    await waitFor(() => room.getUnreadNotificationCount(sdk.NotificationCountType.Total) === 0, WAIT, 'nothing unread at bob');
    await alice.sendTextMessage(roomOnB, 'just saying');
    await alice.sendMessage(roomOnB, {
      msgtype: sdk.MsgType.Text,
      body: 'bob: look',
      'm.mentions': { user_ids: [bobId] },
    });
    await waitFor(() => room.getUnreadNotificationCount(sdk.NotificationCountType.Total) === 2, WAIT, 'two unread at bob');
    expect(room.getUnreadNotificationCount(sdk.NotificationCountType.Highlight)).toBe(1);
  });

  it('both write at once: each server merges the other\'s branch, both see every message and agree on the state', async () => {
    const fromA = Array.from({ length: 10 }, (_, i) => `concurrent A ${i}`);
    const fromB = Array.from({ length: 10 }, (_, i) => `concurrent B ${i}`);
    await Promise.all([
      (async () => {
        for (const body of fromA) await alice.sendTextMessage(roomOnB, body);
        await alice.setRoomTopic(roomOnB, 'topic from A');
      })(),
      (async () => {
        for (const body of fromB) await bob.sendTextMessage(roomOnB, body);
        await bob.setRoomName(roomOnB, 'Named from B');
      })(),
    ]);
    const concurrent = (client: sdk.MatrixClient): Promise<string[]> => history(client, roomOnB, 'concurrent ');
    for (const client of [alice, bob]) {
      await waitFor(async () => (await concurrent(client)).length === 20, WAIT, `all twenty messages at ${client.getUserId()}`);
      const seen = await concurrent(client);
      expect(seen.filter((x) => x.startsWith('concurrent A'))).toEqual(fromA);
      expect(seen.filter((x) => x.startsWith('concurrent B'))).toEqual(fromB);
      await waitFor(() => client.getRoom(roomOnB)?.name === 'Named from B', WAIT, `the name at ${client.getUserId()}`);
      await waitFor(
        () => client.getRoom(roomOnB)?.currentState.getStateEvents('m.room.topic', '')?.getContent().topic === 'topic from A',
        WAIT,
        `the topic at ${client.getUserId()}`,
      );
    }
    // Built on both branches: the next messages still cross.
    await alice.sendTextMessage(roomOnB, 'after the merge, from A');
    await bob.sendTextMessage(roomOnB, 'after the merge, from B');
    await waitFor(() => bodies(bob, roomOnB).includes('after the merge, from A'), WAIT, 'A\'s message after the merge, at bob');
    await waitFor(() => bodies(alice, roomOnB).includes('after the merge, from B'), WAIT, 'B\'s message after the merge, at alice');
  });

  it('alice finds B\'s public room in B\'s directory, and bob in her user directory', async () => {
    const rooms = await alice.publicRooms({ server: 'b.test' });
    expect(rooms.chunk.map((r) => r.room_id)).toContain(roomOnB);
    const found = await alice.searchUserDirectory({ term: 'bob' });
    expect(found.results.map((u) => u.user_id)).toContain(bobId);
  });

  it('a thread opened on A gets replies from B, seen as a thread by both (server-side threads, as Element runs)', async () => {
    const aliceThreads = await startSdkClient(a.url, await loginUser(a.url, 'alice'), { threadSupport: true });
    const bobThreads = await startSdkClient(b.url, await loginUser(b.url, 'bob'), { threadSupport: true });
    clients.push(aliceThreads, bobThreads);
    const { event_id: root } = await aliceThreads.sendTextMessage(roomOnB, 'Shall we talk about bridges?');
    await waitFor(() => bobThreads.getRoom(roomOnB)?.findEventById(root), WAIT, 'the root at bob');
    await bobThreads.sendMessage(roomOnB, root, { msgtype: sdk.MsgType.Text, body: 'Yes, IRC first' });
    await bobThreads.sendMessage(roomOnB, root, { msgtype: sdk.MsgType.Text, body: 'then SIP' });
    const thread = await waitFor(() => {
      const t = aliceThreads.getRoom(roomOnB)?.getThread(root);
      return t && t.length === 2 ? t : null;
    }, WAIT, 'a thread of two replies at alice');
    expect(thread.replyToEvent?.getContent().body).toBe('then SIP');
    const bundle = await fetch(`${a.url}/_matrix/client/v3/rooms/${encodeURIComponent(roomOnB)}/event/${encodeURIComponent(root)}`, {
      headers: { authorization: `Bearer ${alice.getAccessToken()}` },
    });
    expect(((await bundle.json()) as { unsigned: { 'm.relations': { 'm.thread': { count: number } } } }).unsigned['m.relations']['m.thread'].count).toBe(2);
    aliceThreads.stopClient();
    bobThreads.stopClient();
  });

  it('alice upgrades a room bob shares; bob follows the tombstone into the new room; a ban keeps him out', async () => {
    const { room_id: oldRoom } = await alice.createRoom({ preset: sdk.Preset.PrivateChat, name: 'Ops', invite: [bobId] });
    await waitFor(() => bob.getRoom(oldRoom)?.getMyMembership() === sdk.KnownMembership.Invite, WAIT, 'the invite at bob');
    await bob.joinRoom(oldRoom);
    await waitFor(() => membershipOf(alice, oldRoom, bobId) === sdk.KnownMembership.Join, WAIT, 'bob in the old room, at alice');
    const { replacement_room: newRoom } = await alice.upgradeRoom(oldRoom, '11');
    const tombstone = await waitFor(() => bob.getRoom(oldRoom)?.currentState.getStateEvents(sdk.EventType.RoomTombstone, ''), WAIT, 'the tombstone at bob');
    expect(tombstone.getContent()['replacement_room']).toBe(newRoom);
    await waitFor(() => bob.getRoom(newRoom)?.getMyMembership() === sdk.KnownMembership.Invite, WAIT, 'the invite to the replacement');
    await bob.joinRoom(newRoom);
    await waitFor(() => bob.getRoom(newRoom)?.getMyMembership() === sdk.KnownMembership.Join, WAIT, 'bob in the replacement');
    expect(bob.getRoomUpgradeHistory(oldRoom, true).map((r) => r.roomId)).toEqual([oldRoom, newRoom]);
    expect(bob.getRoom(newRoom)!.name).toBe('Ops');
    await bob.sendTextMessage(newRoom, 'made it across');
    await waitFor(() => bodies(alice, newRoom).includes('made it across'), WAIT, 'bob\'s message in the replacement, at alice');

    await alice.ban(newRoom, bobId, 'testing bans');
    await waitFor(() => bob.getRoom(newRoom)?.getMyMembership() === sdk.KnownMembership.Ban, WAIT, 'the ban at bob');
    await expect(bob.joinRoom(newRoom, { viaServers: ['a.test'] })).rejects.toMatchObject({ httpStatus: 403, errcode: 'M_FORBIDDEN' });
  });

  it('a picture uploaded on B is downloaded by alice through A', async () => {
    const bytes = Buffer.from('\x89PNG\r\n\x1a\n not really a picture, but bytes');
    const { content_uri: mxc } = await bob.uploadContent(bytes, { name: 'cake.png', type: 'image/png' });
    expect(mxc).toMatch(/^mxc:\/\/b\.test\//);
    await bob.sendMessage(roomOnB, { msgtype: sdk.MsgType.Image, body: 'cake.png', url: mxc, info: { mimetype: 'image/png', size: bytes.length } });
    const image = await waitFor(
      () => alice.getRoom(roomOnB)?.getLiveTimeline().getEvents().find((e) => e.getContent().msgtype === 'm.image'),
      WAIT,
      'the picture message at alice',
    );
    const url = alice.mxcUrlToHttp(String(image.getContent().url), undefined, undefined, undefined, false, true, true)!;
    expect(url.startsWith(`${a.url}/_matrix/client/v1/media/download/b.test/`)).toBe(true);
    const res = await fetch(url, { headers: { authorization: `Bearer ${alice.getAccessToken()}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);
  });

  it('bob on B opens a direct chat with alice on A, as Element does: invite in createRoom, is_direct', async () => {
    const { room_id: dm } = await bob.createRoom({ preset: sdk.Preset.TrustedPrivateChat, is_direct: true, invite: [aliceId] });
    const invited = await waitFor(() => {
      const room = alice.getRoom(dm);
      return room?.getMyMembership() === sdk.KnownMembership.Invite ? room : null;
    }, WAIT, 'the DM invite at alice');
    expect(invited.getMember(aliceId)?.events.member?.getContent().is_direct).toBe(true);
    await alice.joinRoom(dm);
    await waitFor(() => membershipOf(bob, dm, aliceId) === sdk.KnownMembership.Join, WAIT, 'alice in the DM, at bob');
    await alice.sendTextMessage(dm, 'hi bob, directly');
    await waitFor(() => bodies(bob, dm).includes('hi bob, directly'), WAIT, 'the DM message at bob');
    await bob.sendTextMessage(dm, 'hi alice, directly');
    await waitFor(() => bodies(alice, dm).includes('hi alice, directly'), WAIT, 'the DM answer at alice');
    // A room without a name is named after the other member, from the server's room summary (heroes).
    expect(alice.getRoom(dm)?.name).toBe('bob');
    expect(bob.getRoom(dm)?.name).toBe('alice');
  });

  it('a display name set on B shows at A, in the room\'s member list and as a profile', async () => {
    await bob.setDisplayName('Bob of B');
    await waitFor(() => alice.getRoom(roomOnA)?.getMember(bobId)?.name === 'Bob of B', WAIT, 'bob\'s new name in the room at alice');
    expect((await alice.getProfileInfo(bobId)).displayname).toBe('Bob of B');
  });

  it('bob leaves the room made on A: alice sees the leave, and A sends B nothing more of that room', async () => {
    await bob.leave(roomOnA);
    await waitFor(() => membershipOf(alice, roomOnA, bobId) === sdk.KnownMembership.Leave, WAIT, 'bob\'s leave, at alice');
    await waitFor(() => bob.getRoom(roomOnA)?.getMyMembership() === sdk.KnownMembership.Leave, WAIT, 'bob\'s leave, at bob');
    const toB = { destination: 'b.test', kind: 'pdu' };
    await waitFor(async () => (await metric(a, 'patchbay_hs_federation_queued', toB)) === 0, WAIT, 'A\'s queue to B empty');
    const before = await metric(a, 'patchbay_hs_federation_sent_total', toB);

    // The queue to a server is in order: once B has the marker from the room they still share, it would
    // have had anything of the room bob left that A sent before.
    await alice.sendTextMessage(roomOnA, 'after bob left');
    await alice.sendTextMessage(roomOnB, 'marker');
    await waitFor(() => bodies(bob, roomOnB).includes('marker'), WAIT, 'the marker at bob');
    await waitFor(async () => (await metric(a, 'patchbay_hs_federation_queued', toB)) === 0, WAIT, 'A\'s queue to B empty');
    expect(await metric(a, 'patchbay_hs_federation_sent_total', toB)).toBe(before + 1);
    expect(bodies(bob, roomOnA)).not.toContain('after bob left');
    expect((await bob.getJoinedRooms()).joined_rooms).not.toContain(roomOnA);
  });

  it('bob rejoins the room made on A after it moved on without B: he gets its new state and messages', async () => {
    await alice.setRoomName(roomOnA, 'Renamed while B was out');
    await alice.sendStateEvent(roomOnA, sdk.EventType.RoomJoinRules, { join_rule: sdk.JoinRule.Public }, '');
    await bob.joinRoom(roomOnA, { viaServers: ['a.test'] });
    await waitFor(() => membershipOf(alice, roomOnA, bobId) === sdk.KnownMembership.Join, WAIT, 'bob joined again, at alice');
    await waitFor(() => bob.getRoom(roomOnA)?.getMyMembership() === sdk.KnownMembership.Join, WAIT, 'bob joined again, at bob');
    await waitFor(() => bob.getRoom(roomOnA)?.name === 'Renamed while B was out', WAIT, 'the new name at bob');
    await alice.sendTextMessage(roomOnA, 'welcome back');
    await waitFor(() => bodies(bob, roomOnA).includes('welcome back'), WAIT, 'alice\'s message after the rejoin, at bob');
    await bob.sendTextMessage(roomOnA, 'back again');
    await waitFor(() => bodies(alice, roomOnA).includes('back again'), WAIT, 'bob\'s message after the rejoin, at alice');
  });

  it('alice kicks bob: both see it, and an invite after that is accepted again', async () => {
    await alice.kick(roomOnA, bobId, 'testing kicks');
    await waitFor(() => bob.getRoom(roomOnA)?.getMyMembership() === sdk.KnownMembership.Leave, WAIT, 'the kick, at bob');
    expect(bob.getRoom(roomOnA)?.getMember(bobId)?.events.member?.getSender()).toBe(aliceId);
    await alice.sendStateEvent(roomOnA, sdk.EventType.RoomJoinRules, { join_rule: sdk.JoinRule.Invite }, '');
    await alice.invite(roomOnA, bobId);
    await waitFor(() => bob.getRoom(roomOnA)?.getMyMembership() === sdk.KnownMembership.Invite, WAIT, 'the new invite at bob');
    await bob.joinRoom(roomOnA);
    await waitFor(() => membershipOf(alice, roomOnA, bobId) === sdk.KnownMembership.Join, WAIT, 'bob joined after the kick, at alice');
    await alice.sendTextMessage(roomOnA, 'after the kick');
    await waitFor(() => bodies(bob, roomOnA).includes('after the kick'), WAIT, 'a message after the re-invite, at bob');
  });

  it('bob rejects an invite from A: alice sees the rejection', async () => {
    const { room_id: declined } = await alice.createRoom({ name: 'Declined', preset: sdk.Preset.PrivateChat });
    await alice.invite(declined, bobId);
    await waitFor(() => bob.getRoom(declined)?.getMyMembership() === sdk.KnownMembership.Invite, WAIT, 'the invite at bob');
    await bob.leave(declined);
    await waitFor(() => membershipOf(alice, declined, bobId) === sdk.KnownMembership.Leave, WAIT, 'the rejection, at alice');
    await waitFor(() => bob.getRoom(declined)?.getMyMembership() === sdk.KnownMembership.Leave, WAIT, 'the rejection, at bob');
  });

  it('alice leaves the room made on B: bob sees it', async () => {
    await alice.leave(roomOnB);
    await waitFor(() => membershipOf(bob, roomOnB, aliceId) === sdk.KnownMembership.Leave, WAIT, 'alice\'s leave, at bob');
    await waitFor(() => alice.getRoom(roomOnB)?.getMyMembership() === sdk.KnownMembership.Leave, WAIT, 'alice\'s leave, at alice');
  });
});
