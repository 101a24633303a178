// A real Matrix client library against the embedded homeserver: what Element and bots built on
// matrix-js-sdk need to work (login, rooms, messages both ways through /sync, state, invites, leave).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as sdk from 'matrix-js-sdk';
import {
  loginUser,
  registerUser,
  startSdkClient,
  startTestHomeserver,
  waitFor,
  type TestHomeserver,
  type TestUser,
} from '../harness/index.js';

/** Collects every event each client's rooms see through RoomEvent.Timeline (live sync, not pagination). */
class TimelineRecorder {
  readonly events: Array<{ roomId: string; event: sdk.MatrixEvent }> = [];
  constructor(client: sdk.MatrixClient) {
    client.on(sdk.RoomEvent.Timeline, (event, room) => {
      if (room) this.events.push({ roomId: room.roomId, event });
    });
  }
  messageBodies(roomId: string): string[] {
    return this.events
      .filter((e) => e.roomId === roomId && e.event.getType() === 'm.room.message')
      .map((e) => String(e.event.getContent().body));
  }
}

describe('matrix-js-sdk against the embedded homeserver', () => {
  let hs: TestHomeserver;
  let aliceAccount: TestUser;
  let alice: sdk.MatrixClient;
  let bob: sdk.MatrixClient;
  let carol: sdk.MatrixClient;
  let aliceTimeline: TimelineRecorder;
  let bobTimeline: TimelineRecorder;
  const clients: sdk.MatrixClient[] = [];
  let roomId = '';

  beforeAll(async () => {
    hs = await startTestHomeserver();
    await registerUser(hs.url, 'alice', 'alice password');
    // A password login (a second device) is what a client does after registration elsewhere.
    aliceAccount = await loginUser(hs.url, 'alice', 'alice password');
    const bobAccount = await registerUser(hs.url, 'bob');
    const carolAccount = await registerUser(hs.url, 'carol');
    alice = await startSdkClient(hs.url, aliceAccount);
    clients.push(alice);
    bob = await startSdkClient(hs.url, bobAccount);
    clients.push(bob);
    carol = await startSdkClient(hs.url, carolAccount);
    clients.push(carol);
    aliceTimeline = new TimelineRecorder(alice);
    bobTimeline = new TimelineRecorder(bob);
  });

  afterAll(async () => {
    for (const client of clients) client.stopClient();
    await hs?.stop();
  });

  it('logs in: the client knows who it is', () => {
    expect(aliceAccount.userId).toBe('@alice:localhost');
    expect(alice.getUserId()).toBe('@alice:localhost');
    expect(alice.getDeviceId()).toBe(aliceAccount.deviceId);
  });

  it('creates a room that appears in the creator\'s sync', async () => {
    const created = await alice.createRoom({ name: 'Patchbay lobby', preset: sdk.Preset.PublicChat });
    roomId = created.room_id;
    expect(roomId).toMatch(/^!/);
    const room = await waitFor(() => alice.getRoom(roomId), 20_000, 'the new room in alice\'s sync');
    expect(room.getMyMembership()).toBe(sdk.KnownMembership.Join);
  });

  it('lets bob join; alice sees him join', async () => {
    await bob.joinRoom(roomId);
    await waitFor(() => alice.getRoom(roomId)?.getMember('@bob:localhost')?.membership === sdk.KnownMembership.Join, 20_000, 'bob joined in alice\'s view');
    await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === sdk.KnownMembership.Join, 20_000, 'bob\'s own view of the join');
    expect(bob.getRoom(roomId)?.name).toBe('Patchbay lobby');
  });

  it('delivers messages both ways through /sync as timeline events', async () => {
    await alice.sendTextMessage(roomId, 'hello bob');
    await waitFor(() => bobTimeline.messageBodies(roomId).includes('hello bob'), 20_000, 'alice\'s message at bob');
    await bob.sendTextMessage(roomId, 'hello alice');
    await waitFor(() => aliceTimeline.messageBodies(roomId).includes('hello alice'), 20_000, 'bob\'s message at alice');
    const atBob = bobTimeline.events.find((e) => e.event.getContent().body === 'hello bob');
    expect(atBob?.event.getSender()).toBe('@alice:localhost');
    expect(atBob?.event.getId()).toMatch(/^\$/);
  });

  it('keeps message order as sent', async () => {
    for (let i = 0; i < 10; i += 1) await alice.sendTextMessage(roomId, `ordered ${i}`);
    const expected = Array.from({ length: 10 }, (_, i) => `ordered ${i}`);
    await waitFor(() => bobTimeline.messageBodies(roomId).filter((b) => b.startsWith('ordered ')).length >= 10, 20_000, 'ten messages at bob');
    expect(bobTimeline.messageBodies(roomId).filter((b) => b.startsWith('ordered '))).toEqual(expected);
  });

  it('shows topic and name changes to the other member', async () => {
    await alice.setRoomTopic(roomId, 'Bridges and more');
    await alice.setRoomName(roomId, 'Patchbay hall');
    await waitFor(
      () => bob.getRoom(roomId)?.currentState.getStateEvents('m.room.topic', '')?.getContent().topic === 'Bridges and more',
      20_000,
      'the topic at bob',
    );
    await waitFor(() => bob.getRoom(roomId)?.name === 'Patchbay hall', 20_000, 'the new name at bob');
  });

  it('delivers an invite through sync and lets the invitee join', async () => {
    const { room_id: privateRoom } = await alice.createRoom({ name: 'Private corner', preset: sdk.Preset.PrivateChat });
    await alice.invite(privateRoom, '@carol:localhost');
    const invited = await waitFor(() => {
      const room = carol.getRoom(privateRoom);
      return room?.getMyMembership() === sdk.KnownMembership.Invite ? room : null;
    }, 20_000, 'the invite at carol');
    expect(invited.getMember('@carol:localhost')?.events.member?.getSender()).toBe('@alice:localhost');
    await carol.joinRoom(privateRoom);
    await waitFor(() => alice.getRoom(privateRoom)?.getMember('@carol:localhost')?.membership === sdk.KnownMembership.Join, 20_000, 'carol joined');
    await waitFor(() => carol.getRoom(privateRoom)?.name === 'Private corner', 20_000, 'the room name at carol after joining');
  });

  it('shows typing notifications to the other member', async () => {
    await alice.sendTyping(roomId, true, 10_000);
    await waitFor(() => bob.getRoom(roomId)?.getMember('@alice:localhost')?.typing === true, 20_000, 'alice typing at bob');
    await alice.sendTyping(roomId, false, 0);
    await waitFor(() => bob.getRoom(roomId)?.getMember('@alice:localhost')?.typing === false, 20_000, 'alice stopped typing at bob');
  });

  it('lets a client that joined with a short initial sync scroll back through history', async () => {
    for (let i = 0; i < 30; i += 1) await alice.sendTextMessage(roomId, `history ${i}`);
    const late = await startSdkClient(hs.url, await loginUser(hs.url, 'bob'), { initialSyncLimit: 5 });
    clients.push(late);
    const room = await waitFor(() => late.getRoom(roomId), 20_000, 'the room in the new client');
    const history = (): string[] =>
      room.getLiveTimeline().getEvents().filter((e) => e.getType() === 'm.room.message' && String(e.getContent().body).startsWith('history ')).map((e) => String(e.getContent().body));
    expect(history().length).toBeLessThan(30);
    for (let page = 0; page < 20 && history().length < 30; page += 1) await late.scrollback(room, 10);
    expect(history()).toEqual(Array.from({ length: 30 }, (_, i) => `history ${i}`));
  });

  it('shows a later joiner of a "joined" room nothing from before the join, even scrolling back', async () => {
    const { room_id: quiet } = await alice.createRoom({
      preset: sdk.Preset.PublicChat,
      initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }],
    });
    await alice.sendTextMessage(quiet, 'before carol');
    await carol.joinRoom(quiet);
    await alice.sendTextMessage(quiet, 'after carol');
    const room = await waitFor(() => carol.getRoom(quiet), 20_000, 'the room at carol');
    const bodies = (): string[] =>
      room.getLiveTimeline().getEvents().filter((e) => e.getType() === 'm.room.message').map((e) => String(e.getContent().body));
    await waitFor(() => bodies().includes('after carol'), 20_000, 'the message after her join');
    for (let page = 0; page < 10 && room.oldState.paginationToken !== null; page += 1) await carol.scrollback(room, 30);
    expect(room.oldState.paginationToken).toBeNull();
    expect(bodies()).toEqual(['after carol']);
  });

  it('lets bob leave; both sides see it', async () => {
    await bob.leave(roomId);
    await waitFor(() => alice.getRoom(roomId)?.getMember('@bob:localhost')?.membership === sdk.KnownMembership.Leave, 20_000, 'bob\'s leave at alice');
    await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === sdk.KnownMembership.Leave, 20_000, 'bob\'s leave in his own sync');
    // After leaving, bob no longer receives the room's messages.
    await alice.sendTextMessage(roomId, 'after bob left');
    await waitFor(() => aliceTimeline.messageBodies(roomId).includes('after bob left'), 20_000, 'alice\'s own echo');
    const joined = await bob.getJoinedRooms();
    expect(joined.joined_rooms).not.toContain(roomId);
  });
});
