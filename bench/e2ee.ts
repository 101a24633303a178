// `npm run bench -- e2ee [--users N]`: what end-to-end encryption costs the homeserver (SQLite). N users
// with keys share rooms of 20; then: an incremental /sync with nothing new, and one after device-list
// changes of the user's 19 room-mates and of 20 users elsewhere (the changes are a range of stream
// positions, so the cost follows what changed, not how many users there are); /keys/query of 20 users;
// /keys/claim of one key for each of 20 devices; a send-to-device message to 20 devices.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enc } from '../testkit/MatrixHttpClient.js';
import { rateLimitsWith } from '../testkit/shippedDefaults.js';
import { startTestHomeserver } from '../testkit/testHomeserver.js';
import { registerUser, type TestUser } from '../testkit/testUsers.js';
import { percentile, progress, round, type BenchResult } from './BenchModule.js';

const ROOM_SIZE = 20;
const SAMPLES = 50;

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const value = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < ROOM_SIZE * 2) throw new Error(`${name} wants an integer of at least ${ROOM_SIZE * 2}`);
  return value;
}

function key(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64').replace(/=+$/, '');
}

function deviceKeys(u: TestUser): Record<string, unknown> {
  return {
    user_id: u.userId,
    device_id: u.deviceId,
    algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
    keys: { [`curve25519:${u.deviceId}`]: key(), [`ed25519:${u.deviceId}`]: key() },
    signatures: { [u.userId]: { [`ed25519:${u.deviceId}`]: key() } },
  };
}

function oneTimeKeys(u: TestUser, n: number, round: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) out[`signed_curve25519:r${round}k${i}`] = { key: key(), signatures: { [u.userId]: { [`ed25519:${u.deviceId}`]: key() } } };
  return out;
}

/** Milliseconds per call: median and 95th percentile over SAMPLES calls. */
async function timed(fn: (i: number) => Promise<unknown>): Promise<{ p50_ms: number; p95_ms: number }> {
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const start = performance.now();
    await fn(i);
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return { p50_ms: round(percentile(samples, 50)), p95_ms: round(percentile(samples, 95)) };
}

export async function run(args: string[]): Promise<BenchResult> {
  const userCount = option(args, '--users', 400);
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-e2ee-'));
  const hs = await startTestHomeserver({
    storage: { kind: 'sqlite', path: join(dir, 'hs.sqlite') },
    mediaDir: join(dir, 'media'),
    rateLimits: rateLimitsWith({
      registration_per_ip: { per_second: 1_000_000, burst: 1_000_000 },
      room_creation_per_user: { per_second: 1_000_000, burst: 1_000_000 },
      joins_per_user: { per_second: 1_000_000, burst: 1_000_000 },
    }),
  });
  try {
    progress(`${userCount} users with device keys and 50 one-time keys, in rooms of ${ROOM_SIZE}`);
    const users: TestUser[] = [];
    for (let i = 0; i < userCount; i++) users.push(await registerUser(hs.url, `u${i}`));
    for (let r = 0; r < userCount / ROOM_SIZE; r++) {
      const members = users.slice(r * ROOM_SIZE, (r + 1) * ROOM_SIZE);
      const roomId = (await members[0]!.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } })).room_id;
      for (const m of members.slice(1)) await m.http.ok('POST', `/join/${enc(roomId)}`, { body: {} });
    }
    for (const u of users) await u.http.ok('POST', '/keys/upload', { body: { device_keys: deviceKeys(u), one_time_keys: oneTimeKeys(u, 50, 0) } });

    const reader = users[0]!;
    const token = (await reader.http.ok<{ next_batch: string }>('GET', '/sync')).next_batch;
    progress('incremental /sync with nothing new');
    const quiet = await timed(() => reader.http.ok('GET', '/sync', { query: { since: token, timeout: 0 } }));

    progress('incremental /sync after device-list changes of 19 room-mates and 20 others');
    for (const u of users.slice(1, ROOM_SIZE * 2)) {
      await u.http.ok('POST', '/keys/upload', { body: { device_keys: deviceKeys(u) } });
    }
    let changed = 0;
    const afterChanges = await timed(async () => {
      const s = await reader.http.ok<{ device_lists: { changed: string[] } }>('GET', '/sync', { query: { since: token, timeout: 0 } });
      changed = s.device_lists.changed.length;
    });

    progress('/keys/query, /keys/claim and /sendToDevice for 20 other users');
    const mates = users.slice(1, 21);
    const query = await timed(() => reader.http.ok('POST', '/keys/query', { body: { device_keys: Object.fromEntries(mates.map((u) => [u.userId, []])) } }));
    const claim = await timed(() =>
      reader.http.ok('POST', '/keys/claim', { body: { one_time_keys: Object.fromEntries(mates.map((u) => [u.userId, { [u.deviceId]: 'signed_curve25519' }])) } }),
    );
    const toDevice = await timed((i) =>
      reader.http.ok('PUT', `/sendToDevice/m.room.encrypted/bench${i}`, {
        body: { messages: Object.fromEntries(mates.map((u) => [u.userId, { [u.deviceId]: { ciphertext: key() } }])) },
      }),
    );
    return {
      users: userCount,
      room_size: ROOM_SIZE,
      sync_nothing_new: quiet,
      sync_after_device_list_changes: { ...afterChanges, changed_reported: changed },
      keys_query_20_users: query,
      keys_claim_20_devices: claim,
      send_to_device_20_devices: toDevice,
    };
  } finally {
    await hs.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
