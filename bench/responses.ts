// `npm run bench -- responses [--events N] [--kib K] [--clients C]`: the memory a real `patchbay homeserver`
// process needs when C clients at once ask `/messages?limit=1000` of a room holding N events of K KiB each
// (the worst case the response byte budgets exist for), and how the answers are paged. Peak RSS is the
// kernel's high-water mark (VmHWM), reset after the room is filled so only the reads count (Linux).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { enc, MatrixHttpClient } from '../testkit/MatrixHttpClient.js';
import { registerUser } from '../testkit/testUsers.js';
import { waitFor } from '../testkit/waitFor.js';
import { progress, round, type BenchResult } from './BenchModule.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'patchbay.js');
const MiB = 1024 * 1024;

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const value = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} wants a positive integer`);
  return value;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  return port;
}

/** VmRSS or VmHWM of a process, in MiB. */
function memoryOf(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  if (!line) throw new Error(`no ${field} for process ${pid}`);
  return Number(/(\d+)/.exec(line)![1]) / 1024;
}

export async function run(args: string[]): Promise<BenchResult> {
  const eventCount = option(args, '--events', 1000);
  const kib = option(args, '--kib', 57);
  const clients = option(args, '--clients', 8);
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-responses-'));
  const port = await freePort();
  const config = join(dir, 'patchbay.yaml');
  writeFileSync(config, `data_dir: ${JSON.stringify(dir)}\nlogging:\n  level: warn\nhomeserver:\n  port: ${port}\n`);
  const child = spawn(process.execPath, [CLI, 'homeserver', '--config', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  const pid = child.pid!;
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => (await new MatrixHttpClient(url).get('/_matrix/client/versions')).status === 200, 30_000, 'the homeserver');
    progress(`homeserver pid ${pid} on ${url}; filling a room with ${eventCount} events of ${kib} KiB`);
    const alice = await registerUser(url, 'alice');
    const roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { name: 'big events' } })).room_id;
    const filler = 'x'.repeat(kib * 1024 - 200);
    for (let i = 0; i < eventCount; i += 1) {
      await alice.http.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/big${i}`, { body: { msgtype: 'm.text', body: `${i} ${filler}` } });
    }
    const rssBefore = memoryOf(pid, 'VmRSS');
    writeFileSync(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM to the current RSS

    progress(`${clients} clients at once: GET /messages?dir=b&limit=1000`);
    const path = `${url}/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=1000`;
    const pages = await Promise.all(
      Array.from({ length: clients }, async () => {
        const res = await fetch(path, { headers: { Authorization: `Bearer ${alice.accessToken}` } });
        const text = await res.text();
        const body = JSON.parse(text) as { chunk: unknown[]; end?: string };
        return { bytes: Buffer.byteLength(text), events: body.chunk.length, more: body.end !== undefined };
      }),
    );
    const peak = memoryOf(pid, 'VmHWM');

    // Reading the whole room page by page, as a client scrolling back does.
    let from: string | undefined;
    let requests = 0;
    let read = 0;
    for (;;) {
      const page = await alice.http.ok<{ chunk: Array<{ type: string }>; end?: string }>('GET', `/rooms/${enc(roomId)}/messages`, {
        query: { dir: 'b', limit: 1000, from },
      });
      requests += 1;
      read += page.chunk.filter((e) => e.type === 'm.room.message').length;
      if (page.end === undefined) break;
      from = page.end;
    }
    if (read !== eventCount) throw new Error(`paged through ${read} of ${eventCount} messages`);

    return {
      node: process.version,
      events: eventCount,
      event_kib: kib,
      clients,
      rss_before_mib: round(rssBefore, 1),
      peak_rss_mib: round(peak, 1),
      response_mib: round(pages[0]!.bytes / MiB, 2),
      events_per_response: pages[0]!.events,
      more_pages: pages[0]!.more,
      requests_to_read_all: requests,
    };
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
    rmSync(dir, { recursive: true, force: true });
  }
}
