// The durability rule with the real process: `patchbay start` answers 250 only once a mail is fsynced in
// its spool, so a kill -9 right after the last 250 of a pipelined batch loses none of them, and the next
// start delivers each exactly once.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { freePort, PatchbayProcess } from '../../../test/e2e/PatchbayProcess.js';
import { MatrixHttpClient, enc, waitFor } from '../../../testkit/index.js';
import { RawSmtpClient } from './RawSmtpClient.js';

const READY = /^patchbay start: ready\. Homeserver (\S+) \(server name/;
const MAILS = 20;

describe('email bridge: kill -9 of patchbay start right after a 250', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'patchbay-email-crash-'));
  const processes: PatchbayProcess[] = [];
  const launch = (): PatchbayProcess => {
    const p = PatchbayProcess.start(['start', '-c', 'patchbay.yaml'], { cwd });
    processes.push(p);
    return p;
  };

  afterAll(async () => {
    for (const p of processes) p.killGroup();
    await Promise.all(processes.map((p) => p.exited));
    rmSync(cwd, { recursive: true, force: true });
  });

  it('every acknowledged mail reaches Matrix after the restart, once', async () => {
    const smtpPort = await freePort();
    writeFileSync(
      join(cwd, 'patchbay.yaml'),
      [
        'data_dir: ./data',
        'logging: { level: warn }',
        'homeserver: { port: 0 }',
        // An outbox job the killed process held is taken over after this (default 30 s).
        'host: { port: 0, job_takeover_ms: 3000 }',
        'bridges:',
        '  example: { enabled: false }',
        '  email:',
        '    enabled: true',
        '    domains: [bridge.test]',
        `    smtp: { port: ${smtpPort} }`,
        "    sender_checks: { default: 'off' }",
        '',
      ].join('\n'),
    );
    const first = launch();
    const [, hsUrl = ''] = await first.waitForLine(READY, 60_000);
    const http = new MatrixHttpClient(hsUrl);
    const reg = await http.ok<{ access_token: string; user_id: string }>('POST', '/register', { body: { username: 'alice', password: 'a long password', auth: { type: 'm.login.dummy' } } });

    // One pipelined session: every DATA answered 250, then the process is killed at once.
    const c = new RawSmtpClient();
    await c.connect(smtpPort);
    await c.send('EHLO crash.test');
    for (let i = 0; i < MAILS; i++) {
      await c.send('MAIL FROM:<bob@example.org>');
      await c.send('RCPT TO:<alice@bridge.test>');
      await c.send('DATA');
      const reply = await c.send(`From: Bob <bob@example.org>\r\nSubject: mail ${i}\r\nMessage-Id: <crash-${i}@example.org>\r\n\r\nbody ${i}\r\n.\r\n`);
      expect(reply).toMatch(/^250 /);
    }
    await first.crash();
    c.close();
    const spool = join(cwd, 'data', 'bridges', 'email', 'spool', 'new');
    const leftAtCrash = existsSync(spool) ? readdirSync(spool).filter((f) => f.endsWith('.json')).length : 0;

    const second = launch();
    const [, hsUrl2 = ''] = await second.waitForLine(READY, 60_000);
    const alice = new MatrixHttpClient(hsUrl2, reg.access_token);
    const messages = async (room: string): Promise<string[]> => {
      const { chunk } = await alice.ok<{ chunk: Array<{ type: string; content: { body?: string } }> }>('GET', `/rooms/${enc(room)}/messages`, { query: { dir: 'b', limit: 100 } });
      return chunk.filter((e) => e.type === 'm.room.message').map((e) => e.content.body ?? '');
    };
    const room = await waitFor(
      async () => {
        const { rooms } = await alice.ok<{ rooms: { invite?: Record<string, unknown>; join?: Record<string, unknown> } }>('GET', '/sync');
        for (const room of Object.keys(rooms.invite ?? {})) await alice.ok('POST', `/join/${enc(room)}`, { body: {} });
        const joined = Object.keys(rooms.join ?? {});
        if (joined.length === 0) return null;
        return (await messages(joined[0]!)).length >= MAILS ? joined[0]! : null;
      },
      60_000,
      `all ${MAILS} mails in Matrix (${leftAtCrash} were still in the spool at the kill)`,
    );
    // Counted once the spool is empty (nothing left that could post a second copy): each mail once.
    await waitFor(() => !existsSync(spool) || readdirSync(spool).length === 0, 60_000, 'the spool to empty');
    const bodies = await messages(room);
    expect(bodies.filter((b) => /^mail \d+\n\nbody \d+$/.test(b)).sort()).toEqual(Array.from({ length: MAILS }, (_, i) => `mail ${i}\n\nbody ${i}`).sort());
    expect(await second.stop()).toBe(0);
  }, 150_000);
});
