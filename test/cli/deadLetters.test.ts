// `patchbay dead-letters` against a running `patchbay start`: a bridge whose remote is down dead-letters
// messages of two rooms; the operator lists and inspects them, fixes the cause, drops one and replays the
// rest, which run again in each room's order.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enc, registerUser, waitFor, type TestUser } from '../harness/index.js';
import { PatchbayProcess, type RunResult } from '../e2e/PatchbayProcess.js';

/** A bridge whose remote is "down" while the file `broken` exists beside it; it logs what it handled. */
export const FLAKY_PLUGIN = `
import { appendFileSync, existsSync } from 'node:fs';
const broken = new URL('./broken', import.meta.url);
const handled = new URL('./handled.log', import.meta.url);
export default () => {
  let ctx;
  return {
    descriptor: { protocol: 'flaky', ghostPrefix: 'flaky_', aliasPrefix: 'flaky_' },
    async start(context) { ctx = context; },
    async stop() {},
    async onUserQuery(userId) {
      const remote = ctx.ghosts.remoteIdOf(userId);
      if (remote !== null) await ctx.ghosts.intent(remote);
      return remote !== null;
    },
    async onMatrixEvent(event, ectx) {
      const remote = event.type === 'm.room.member' ? ctx.ghosts.remoteIdOf(event.state_key) : null;
      if (remote !== null && event.content.membership === 'invite') {
        await (await ctx.ghosts.intent(remote)).join(event.room_id);
        return;
      }
      if (event.type !== 'm.room.message' || ectx.fromBridge) return;
      if (existsSync(broken)) throw new Error('the remote is down');
      appendFileSync(handled, event.room_id + ' ' + event.content.body + '\\n');
    },
  };
};
`;

describe('patchbay dead-letters', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'patchbay-dead-'));
  let start: PatchbayProcess;
  let alice: TestUser;
  const ids: Record<string, string> = {};
  const rooms: Record<string, string> = {};
  const cli = (args: string[]): Promise<RunResult> => PatchbayProcess.run(['dead-letters', ...args, '-c', 'patchbay.yaml'], { cwd });
  const handled = (): string[] => (existsSync(join(cwd, 'handled.log')) ? readFileSync(join(cwd, 'handled.log'), 'utf8').trim().split('\n') : []);

  beforeAll(async () => {
    writeFileSync(join(cwd, 'flaky.mjs'), FLAKY_PLUGIN);
    writeFileSync(
      join(cwd, 'patchbay.yaml'),
      'data_dir: ./data\nhomeserver: { port: 0 }\nhost: { port: 0, handler_attempts: 1 }\nbridges:\n  example: { enabled: false }\n  flaky: { enabled: true, module: ./flaky.mjs }\n',
    );
    start = PatchbayProcess.start(['start', '-c', 'patchbay.yaml'], { cwd });
    const [, homeserverUrl = ''] = await start.waitForLine(/^patchbay start: ready\. Homeserver (\S+)/);
    alice = await registerUser(homeserverUrl, 'alice');
    for (const name of ['a', 'b']) {
      rooms[name] = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { invite: ['@flaky_remote:localhost'] } })).room_id;
    }
    // Only once the ghost has joined does the homeserver send the rooms' messages to the bridge.
    for (const room of Object.values(rooms)) {
      await waitFor(async () => '@flaky_remote:localhost' in (await alice.http.ok<{ joined: Record<string, unknown> }>('GET', `/rooms/${enc(room)}/joined_members`)).joined, 60_000, 'the ghost in the room');
    }
    await alice.http.ok('PUT', `/rooms/${enc(rooms.a!)}/send/m.room.message/ready`, { body: { msgtype: 'm.text', body: 'ready' } });
    await waitFor(() => handled().length === 1, 60_000, 'the bridge in the rooms');
  }, 180_000);

  afterAll(async () => {
    start?.killGroup();
    await start?.exited;
    rmSync(cwd, { recursive: true, force: true });
  });

  test('list and show what could not be handled', async () => {
    writeFileSync(join(cwd, 'broken'), '');
    for (const [room, body] of [['a', 'A1'], ['a', 'A2'], ['b', 'B1'], ['a', 'A3']] as const) {
      ids[body] = (await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(rooms[room]!)}/send/m.room.message/${body}`, { body: { msgtype: 'm.text', body } })).event_id;
    }
    await waitFor(async () => (await cli(['list'])).stdout.startsWith('4 dead letters'), 30_000, 'four dead letters');
    const list = await cli(['list']);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toBe('4 dead letters (newest first):');
    // Newest first: room a's in reverse room order (rooms in other partitions interleave as they ran).
    const listed = lines.slice(1).map((l) => l.split('  ')[0]);
    expect(listed.filter((id) => id !== ids.B1)).toEqual([ids.A3, ids.A2, ids.A1]);
    expect(listed).toContain(ids.B1);
    expect(lines.find((l) => l.startsWith(ids.A3!))).toMatch(new RegExp(`^\\${ids.A3}  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d  \\${rooms.a}  m\\.room\\.message from @alice:localhost, 1 try: the remote is down$`));

    const show = await cli(['show', ids.A2!]);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ event: { event_id: ids.A2, room_id: rooms.a, content: { body: 'A2' } }, error: 'the remote is down', attempts: 1 });
    const unknown = await cli(['show', '$nope']);
    expect([unknown.code, unknown.stderr]).toEqual([1, '$nope: not a dead letter (dropped or replayed already?)\n']);
  });

  test('after the fix: drop one, replay the rest, each room in its order', async () => {
    rmSync(join(cwd, 'broken'));
    const dropped = await cli(['drop', ids.B1!]);
    expect([dropped.code, dropped.stdout]).toEqual([0, `Dropped ${ids.B1}\n`]);
    const replay = await cli(['replay', '--all']);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toBe(`Replayed 3, in this order: ${ids.A1}, ${ids.A2}, ${ids.A3}\n`);
    await waitFor(() => handled().length === 4, 30_000, 'the replayed events handled');
    expect(handled()).toEqual([`${rooms.a} ready`, `${rooms.a} A1`, `${rooms.a} A2`, `${rooms.a} A3`]);
    expect((await cli(['list'])).stdout).toBe('No dead letters.\n');
    const again = await cli(['replay', ids.A1!]);
    expect([again.code, again.stderr]).toEqual([1, `${ids.A1}: not a dead letter (dropped or replayed already?)\n`]);
    const usage = await cli(['replay']);
    expect(usage.code).toBe(2);
  });
});
