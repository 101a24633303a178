// An encrypted conversation between two servers: a.test and b.test on loopback (each in the other's
// `peers`), alice on A and bob on B with matrix-js-sdk and its Rust crypto. Their clients query each other's
// keys and claim one-time keys through their own servers (user/keys/query|claim over federation), send
// the room key as olm-encrypted to-device messages (m.direct_to_device EDUs) and read each other's
// megolm messages. Then bob logs in on a new device: B announces it to A (m.device_list_update), alice's
// client sees bob in device_lists.changed, fetches the new keys and encrypts for that device too.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as sdk from 'matrix-js-sdk';
import { enc, loginUser, registerUser, cryptoOf, quietRustCryptoConsole, silenceRustCrypto, startSdkClient, startServerPair, type TestHomeserver, type TestUser, waitFor } from '../../harness/index.js';

/** Bodies of the room's messages as the client can read them, in timeline order. */
function readable(client: sdk.MatrixClient, roomId: string): string[] {
  const events = client.getRoom(roomId)?.getLiveTimeline().getEvents() ?? [];
  return events.flatMap((e) => {
    if (e.isDecryptionFailure() || e.getType() !== 'm.room.message') return [];
    const body = e.getContent()['body'];
    return typeof body === 'string' ? [body] : [];
  });
}

describe('an encrypted conversation between users on a.test and b.test', () => {
  let a: TestHomeserver;
  let b: TestHomeserver;
  let stopServers: (() => Promise<void>) | undefined;
  let aliceAccount: TestUser;
  let alice: sdk.MatrixClient;
  let bob: sdk.MatrixClient;
  const clients: sdk.MatrixClient[] = [];
  let roomId = '';

  const start = async (url: string, user: TestUser): Promise<sdk.MatrixClient> => {
    const client = await startSdkClient(url, user, { crypto: true });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    quietRustCryptoConsole();
    ({ a, b, stop: stopServers } = await startServerPair({ name: 'fede2ee' }));
    aliceAccount = await registerUser(a.url, 'alice');
    alice = await start(a.url, aliceAccount);
    bob = await start(b.url, await registerUser(b.url, 'bob'));
  });

  afterAll(async () => {
    silenceRustCrypto();
    for (const client of clients) client.stopClient();
    await Promise.all([stopServers?.()]);
  });

  it('lets each read what the other wrote in an encrypted room shared across the two servers', async () => {
    const created = await alice.createRoom({
      invite: ['@bob:b.test'],
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    });
    roomId = created.room_id;
    await waitFor(() => bob.getRoom(roomId), 20_000, 'the invite at bob');
    await bob.joinRoom(roomId);
    await waitFor(() => alice.getRoom(roomId)?.getMember('@bob:b.test')?.membership === 'join', 20_000, "bob's join at alice");
    expect(await cryptoOf(bob).isEncryptionEnabledInRoom(roomId)).toBe(true);

    await alice.sendTextMessage(roomId, 'hello bob, from a.test');
    await waitFor(() => readable(bob, roomId).includes('hello bob, from a.test'), 30_000, "bob decrypting alice's message");
    await bob.sendTextMessage(roomId, 'hello alice, from b.test');
    await waitFor(() => readable(alice, roomId).includes('hello alice, from b.test'), 30_000, "alice decrypting bob's message");

    // Both servers hold ciphertext only.
    const stored = await aliceAccount.http.ok<{ chunk: Array<{ type: string; content: Record<string, unknown> }> }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages`, {
      query: { dir: 'b', limit: 20 },
    });
    const sent = stored.chunk.filter((e) => e.type === 'm.room.encrypted');
    expect(sent).toHaveLength(2);
    for (const e of sent) expect(JSON.stringify(e.content)).not.toMatch(/hello/);
  });

  it("reaches bob's new device: B announces it to A, and alice's client encrypts for it", async () => {
    const laptopAccount = await loginUser(b.url, 'bob');
    const laptop = await start(b.url, laptopAccount);
    await waitFor(
      async () => (await cryptoOf(alice).getUserDeviceInfo(['@bob:b.test'])).get('@bob:b.test')?.has(laptopAccount.deviceId),
      30_000,
      "bob's new device in alice's view of his devices",
    );
    await alice.sendTextMessage(roomId, 'for every device of bob');
    await waitFor(() => readable(laptop, roomId).includes('for every device of bob'), 30_000, 'the new device decrypting');
    await waitFor(() => readable(bob, roomId).includes('for every device of bob'), 30_000, 'the first device decrypting');
  });
});
