// A sqlite-backed homeserver keeps rooms, messages, tokens, media and stream order across a restart, and
// a child process killed with SIGKILL loses nothing it acknowledged.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bodies, CoreClient, enc, type CoreUser, type Event } from './coreHarness.js';

describe('sqlite persistence', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pb-core-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps rooms, messages, access tokens, aliases, media and sync positions after a restart', async () => {
    const storage = { kind: 'sqlite' as const, path: join(dir, 'restart.sqlite') };
    const mediaDir = join(dir, 'media');
    let c = await CoreClient.start({ storage, mediaDir });
    let alice: CoreUser;
    let roomId: string;
    let since: string;
    let mxc: string;
    try {
      alice = await c.register('alice');
      roomId = await c.createRoom(alice, { room_alias_name: 'kept', name: 'Kept' });
      await c.send(alice, roomId, 'before restart');
      since = (await c.sync(alice)).next_batch;
      const up = await c.ok('POST', '/_matrix/media/v3/upload?filename=a.txt', {
        token: alice.token,
        rawBody: 'file body',
        headers: { 'Content-Type': 'text/plain' },
      });
      mxc = up['content_uri'] as string;
    } finally {
      await c.stop();
    }

    c = await CoreClient.start({ storage, mediaDir });
    try {
      const who = await c.ok('GET', '/account/whoami', { token: alice.token });
      expect(who['user_id']).toBe(alice.userId);
      const msgs = await c.ok('GET', `/rooms/${enc(roomId)}/messages?dir=b&limit=1`, { token: alice.token });
      expect(bodies(msgs['chunk'] as Event[])).toEqual(['before restart']);
      expect(await c.ok('GET', `/directory/room/${enc('#kept:core.test')}`)).toMatchObject({ room_id: roomId });
      // Positions continue after the old ones: an old since token sees exactly the new message.
      await c.send(alice, roomId, 'after restart');
      const s = await c.sync(alice, { since });
      expect(bodies(s.rooms.join[roomId]!.timeline.events)).toEqual(['after restart']);
      const [, server, id] = /^mxc:\/\/([^/]+)\/(.+)$/.exec(mxc)!;
      const res = await fetch(`${c.hs.url}/_matrix/media/v3/download/${server}/${id}`);
      expect(await res.text()).toBe('file body');
      const login = await c.call('POST', '/login', {
        body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'secret-password' },
      });
      expect(login.status).toBe(200);
    } finally {
      await c.stop();
    }
  });

  it('loses no acknowledged message when the process is killed with SIGKILL', async () => {
    const dbPath = join(dir, 'kill.sqlite');
    const script = join(dir, 'child.mjs');
    const harness = join(fileURLToPath(new URL('.', import.meta.url)), 'coreHarness.js');
    // The child starts a homeserver, sends messages, prints each acknowledged event ID, and is killed.
    writeFileSync(
      script,
      `import { CoreClient } from ${JSON.stringify(harness)};
       const c = await CoreClient.start({ storage: { kind: 'sqlite', path: ${JSON.stringify(dbPath)} } });
       const u = await c.register('killer');
       const room = await c.createRoom(u, {});
       process.stdout.write(JSON.stringify({ token: u.token, room }) + '\\n');
       for (let i = 0; ; i++) {
         const id = await c.send(u, room, 'm' + i);
         process.stdout.write(id + '\\n');
       }`,
    );
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[] = [];
    let buffer = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        buffer += d.toString();
        const parts = buffer.split('\n');
        buffer = parts.pop()!;
        lines.push(...parts);
        if (lines.length >= 30) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', (code, signal) => {
        if (signal !== 'SIGKILL') reject(new Error(`child exited early: ${code}`));
      });
    });
    await new Promise((r) => child.once('exit', r));
    const { token, room } = JSON.parse(lines[0]!) as { token: string; room: string };
    const acknowledged = lines.slice(1);

    const c = await CoreClient.start({ storage: { kind: 'sqlite', path: dbPath } });
    try {
      const msgs = await c.ok('GET', `/rooms/${enc(room)}/messages?dir=b&limit=1000`, { token });
      const stored = new Set((msgs['chunk'] as Event[]).map((e) => e.event_id));
      expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    } finally {
      await c.stop();
    }
  });
});
