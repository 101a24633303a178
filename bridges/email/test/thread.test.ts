// The SMTP listener and the spool run in a worker thread of their own: a mail is accepted (stored, fsynced,
// 250) while the main thread, where the homeserver, the host and the delivery run, is busy. The client is
// another process, so it keeps talking while this test holds the main thread.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitFor, type TestUser } from '../../../testkit/index.js';
import type { Worker } from 'node:worker_threads';
import { startEmailStack, type EmailTestStack } from './EmailTestStack.js';
import { swaks } from './Swaks.js';

/** Talks SMTP up to the RCPT, says so in `rcpt`, waits for `go`, sends the mail and writes the last reply to `reply`. */
const CLIENT = `
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const { RawSmtpClient } = await import(process.argv[2]);
const [port, dir] = [Number(process.argv[3]), process.argv[4]];
const c = new RawSmtpClient();
await c.connect(port);
await c.send('EHLO child.test');
await c.send('MAIL FROM:<bob@example.org>');
const rcpt = await c.send('RCPT TO:<alice@bridge.test>');
writeFileSync(join(dir, 'rcpt'), rcpt);
while (!existsSync(join(dir, 'go'))) await new Promise((r) => setTimeout(r, 5));
await c.send('DATA');
writeFileSync(join(dir, 'reply'), await c.send('From: Bob <bob@example.org>\\r\\nSubject: busy\\r\\nMessage-Id: <busy-1@example.org>\\r\\n\\r\\nwhile the main thread was busy\\r\\n.\\r\\n'));
c.close();
`;

/** Holds this (the main) thread without giving its event loop a turn, until `done()` or `ms` passed. */
function holdMainThread(done: () => boolean, ms: number): void {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const until = Date.now() + ms;
  while (!done() && Date.now() < until) Atomics.wait(nap, 0, 0, 10);
}

describe('email bridge: the SMTP listener in its own thread', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-email-thread-'));
  let t: EmailTestStack;
  let alice: TestUser;

  beforeAll(async () => {
    t = await startEmailStack({ domains: ['bridge.test'], sender_checks: { default: 'off', domains: {} } });
    alice = await t.registerUser('alice');
  });

  afterAll(async () => {
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 250 for a stored mail while the main thread is held, and the mail reaches Matrix afterwards', async () => {
    writeFileSync(join(dir, 'client.mjs'), CLIENT);
    const child = spawn(process.execPath, [join(dir, 'client.mjs'), new URL('./RawSmtpClient.js', import.meta.url).href, String(t.smtpPort()), dir], { stdio: 'inherit' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await waitFor(() => existsSync(join(dir, 'rcpt')), 20_000, 'the client past RCPT');
    expect(readFileSync(join(dir, 'rcpt'), 'utf8')).toMatch(/^250 /);

    writeFileSync(join(dir, 'go'), '');
    holdMainThread(() => existsSync(join(dir, 'reply')), 20_000);
    expect(existsSync(join(dir, 'reply')) ? readFileSync(join(dir, 'reply'), 'utf8') : 'no reply while the main thread was held').toMatch(/^250 Queued as /);

    await exited;
    const room = await t.dmOf(alice, 'bob@example.org');
    await t.find(alice, room, (e) => String(e.content.body ?? '').includes('while the main thread was busy'), 'the mail in Matrix');
  });

  it('a dead SMTP thread is reported (smtp: backoff) and started again, and takes mail again', async () => {
    // A crash of the thread, as an uncaught error would end it.
    const thread = (t.bridge() as unknown as { running: { listener: { worker: Worker } } }).running.listener;
    const smtpState = async () => (await t.ctx().status.all()).find((s) => s.connection === 'smtp');
    await thread.worker.terminate();
    await waitFor(async () => (await smtpState())?.state === 'backoff', 10_000, 'smtp: backoff');
    expect((await smtpState())?.reason).toMatch(/the SMTP worker thread exited \(code 1\)/);
    await waitFor(async () => (await smtpState())?.state === 'connected', 20_000, 'smtp connected again');

    const r = await swaks({ server: '127.0.0.1', port: t.smtpPort(), from: 'bob@example.org', to: 'alice@bridge.test', header: { Subject: 'after the restart', 'Message-Id': '<restart-1@example.org>' }, body: 'taken by the new thread' });
    expect(r.lastReply).toMatch(/^250 /);
    const room = await t.dmOf(alice, 'bob@example.org');
    await t.find(alice, room, (e) => String(e.content.body ?? '').includes('taken by the new thread'), 'the mail in Matrix');
  });
});
