// Element-style clients through the embedded homeserver: matrix-js-sdk with its Rust crypto (the WASM build
// that ships in @matrix-org/matrix-sdk-crypto-wasm; it runs under Node 20 and 24 with keys in memory).
// Two users hold an encrypted conversation (keys uploaded, queried, claimed; room keys sent as to-device
// messages); a third device of one of them is verified by cross-signing, and trusted by the other user once
// they verified each other with emoji (SAS, over to-device messages); a fourth device restores the room
// keys from the server-side backup and reads the history.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as sdk from 'matrix-js-sdk';
import { CryptoEvent, VerificationPhase, type VerificationRequest, type Verifier } from 'matrix-js-sdk/lib/crypto-api/index.js';
import { enc, loginUser, registerUser, cryptoOf, quietRustCryptoConsole, silenceRustCrypto, startSdkClient, startTestHomeserver, waitFor, type TestHomeserver, type TestUser } from '../../harness/index.js';

/** The clear body of an event once the client has decrypted it (undefined while it cannot). */
function clearBody(event: sdk.MatrixEvent): string | undefined {
  if (event.isDecryptionFailure() || event.getType() !== 'm.room.message') return undefined;
  const body = event.getContent()['body'];
  return typeof body === 'string' ? body : undefined;
}

/** Bodies of the room's messages as the client can read them, in timeline order. */
function readable(client: sdk.MatrixClient, roomId: string): string[] {
  const room = client.getRoom(roomId);
  if (!room) return [];
  return room.getLiveTimeline().getEvents().flatMap((e) => {
    const body = clearBody(e);
    return body === undefined ? [] : [body];
  });
}

describe('matrix-js-sdk with Rust crypto in an encrypted room', () => {
  let hs: TestHomeserver;
  let aliceAccount: TestUser;
  let alice: sdk.MatrixClient;
  let bob: sdk.MatrixClient;
  const clients: sdk.MatrixClient[] = [];
  let roomId = '';
  let phoneId = '';

  const start = async (user: TestUser): Promise<sdk.MatrixClient> => {
    const client = await startSdkClient(hs.url, user, { crypto: true });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    quietRustCryptoConsole();
    hs = await startTestHomeserver();
    aliceAccount = await registerUser(hs.url, 'alice');
    alice = await start(aliceAccount);
    bob = await start(await registerUser(hs.url, 'bob'));
  });
  afterAll(async () => {
    silenceRustCrypto();
    for (const client of clients) client.stopClient();
    await hs?.stop();
  });

  it('publishes each device\'s keys', async () => {
    const keys = await waitFor(async () => {
      const res = await aliceAccount.http.ok<{ device_keys: Record<string, Record<string, unknown>> }>('POST', '/keys/query', {
        body: { device_keys: { '@alice:localhost': [], '@bob:localhost': [] } },
      });
      return Object.keys(res.device_keys['@alice:localhost'] ?? {}).length > 0 && Object.keys(res.device_keys['@bob:localhost'] ?? {}).length > 0 && res;
    }, 20_000, 'both devices\' keys on the server');
    expect(Object.keys(keys.device_keys['@alice:localhost']!)).toEqual([alice.getDeviceId()]);
    const { ed25519 } = await cryptoOf(alice).getOwnDeviceKeys();
    expect((keys.device_keys['@alice:localhost']![alice.getDeviceId()!] as { keys: Record<string, string> }).keys[`ed25519:${alice.getDeviceId()}`]).toBe(ed25519);
  });

  it('lets each read what the other wrote in an encrypted room', async () => {
    const created = await alice.createRoom({
      invite: ['@bob:localhost'],
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    });
    roomId = created.room_id;
    await waitFor(() => bob.getRoom(roomId), 20_000, 'the invite at bob');
    await bob.joinRoom(roomId);
    await waitFor(() => alice.getRoom(roomId)?.getMember('@bob:localhost')?.membership === 'join', 20_000, 'bob\'s join at alice');
    expect(await cryptoOf(alice).isEncryptionEnabledInRoom(roomId)).toBe(true);

    await alice.sendTextMessage(roomId, 'hello bob, this is secret');
    await waitFor(() => readable(bob, roomId).includes('hello bob, this is secret'), 30_000, 'bob decrypting alice\'s message');
    await bob.sendTextMessage(roomId, 'hello alice, so is this');
    await waitFor(() => readable(alice, roomId).includes('hello alice, so is this'), 30_000, 'alice decrypting bob\'s message');

    // What the server holds is ciphertext.
    const stored = await aliceAccount.http.ok<{ chunk: Array<{ type: string; content: Record<string, unknown> }> }>('GET', `/rooms/${enc(roomId)}/messages`, {
      query: { dir: 'b', limit: 10 },
    });
    const sent = stored.chunk.filter((e) => e.type === 'm.room.encrypted');
    expect(sent).toHaveLength(2);
    for (const e of sent) expect(JSON.stringify(e.content)).not.toMatch(/secret|so is this/);
  });

  it('verifies a third device of alice by cross-signing, as everyone sees', async () => {
    await cryptoOf(alice).bootstrapCrossSigning({
      // The first upload of cross-signing keys needs no password (MSC3967): the request goes as it is.
      authUploadDeviceSigningKeys: async (makeRequest) => {
        await makeRequest(null);
      },
    });
    expect(await cryptoOf(alice).isCrossSigningReady()).toBe(true);
    const phoneAccount = await loginUser(hs.url, 'alice');
    phoneId = phoneAccount.deviceId;
    const phone = await start(phoneAccount);
    await waitFor(async () => (await cryptoOf(alice).getUserDeviceInfo(['@alice:localhost'], true)).get('@alice:localhost')?.has(phoneAccount.deviceId), 20_000, 'the phone in alice\'s device list');
    expect((await cryptoOf(alice).getDeviceVerificationStatus('@alice:localhost', phoneAccount.deviceId))?.crossSigningVerified).toBe(false);

    await cryptoOf(alice).crossSignDevice(phoneAccount.deviceId);
    await waitFor(async () => (await cryptoOf(alice).getDeviceVerificationStatus('@alice:localhost', phoneAccount.deviceId))?.crossSigningVerified, 20_000, 'the phone cross-signed at alice');
    // Bob learns of the new signature through his device list and sees the phone signed by its owner.
    await waitFor(async () => (await cryptoOf(bob).getDeviceVerificationStatus('@alice:localhost', phoneAccount.deviceId))?.signedByOwner, 30_000, 'the phone signed by alice, at bob');
    await waitFor(async () => (await cryptoOf(phone).getDeviceVerificationStatus('@alice:localhost', phoneAccount.deviceId))?.signedByOwner, 30_000, 'the phone signed by alice, at the phone');
  });

  it('lets bob verify alice with emoji (SAS over to-device messages), after which he trusts her cross-signed phone', async () => {
    await cryptoOf(bob).bootstrapCrossSigning({
      authUploadDeviceSigningKeys: async (makeRequest) => {
        await makeRequest(null);
      },
    });
    expect((await cryptoOf(bob).getDeviceVerificationStatus('@alice:localhost', phoneId))?.crossSigningVerified).toBe(false);
    const incoming = new Promise<VerificationRequest>((resolve) => alice.once(CryptoEvent.VerificationRequestReceived, resolve));
    const request = await cryptoOf(bob).requestDeviceVerification('@alice:localhost', alice.getDeviceId()!);
    const received = await incoming;
    await received.accept();
    await waitFor(() => request.phase === VerificationPhase.Ready, 20_000, 'the request accepted, at bob');
    const bobSide = await request.startVerification('m.sas.v1');
    const aliceSide = await waitFor(() => received.verifier, 20_000, 'the SAS started, at alice');
    // Each side compares the emoji it shows with the other's, as two people would, and confirms.
    const confirm = async (verifier: Verifier): Promise<string[]> => {
      const sas = await waitFor(() => verifier.getShowSasCallbacks(), 20_000, 'emoji to compare');
      await sas.confirm();
      return (sas.sas.emoji ?? []).map(([emoji]) => emoji);
    };
    const [, , bobSaw, aliceSaw] = await Promise.all([bobSide.verify(), aliceSide.verify(), confirm(bobSide), confirm(aliceSide)]);
    expect(bobSaw).toHaveLength(7);
    expect(aliceSaw).toEqual(bobSaw);
    // Bob signed alice's master key with his user-signing key; her phone is signed by that master key.
    await waitFor(async () => (await cryptoOf(bob).getUserVerificationStatus('@alice:localhost')).isCrossSigningVerified(), 30_000, 'alice verified, at bob');
    await waitFor(async () => (await cryptoOf(bob).getDeviceVerificationStatus('@alice:localhost', phoneId))?.crossSigningVerified, 30_000, 'alice\'s phone trusted, at bob');
  });

  it('restores the room keys from the server-side backup on a new device', async () => {
    await cryptoOf(alice).resetKeyBackup();
    const version = await waitFor(() => cryptoOf(alice).getActiveSessionBackupVersion(), 20_000, 'an active backup');
    await waitFor(async () => {
      const info = await aliceAccount.http.ok<{ count: number; version: string }>('GET', '/room_keys/version');
      return info.version === version && info.count > 0;
    }, 30_000, 'the room key in the backup');
    const backupKey = await cryptoOf(alice).getSessionBackupPrivateKey();
    expect(backupKey).not.toBeNull();

    const laptop = await start(await loginUser(hs.url, 'alice'));
    await waitFor(() => laptop.getRoom(roomId), 20_000, 'the room at the new device');
    expect(readable(laptop, roomId)).toEqual([]);
    await cryptoOf(laptop).storeSessionBackupPrivateKey(backupKey!, version);
    const restored = await cryptoOf(laptop).restoreKeyBackup();
    expect(restored.imported).toBeGreaterThan(0);
    await waitFor(() => readable(laptop, roomId).length === 2 && readable(laptop, roomId), 30_000, 'the history decrypted at the new device');
    expect(readable(laptop, roomId)).toEqual(['hello bob, this is secret', 'hello alice, so is this']);
  });
});
