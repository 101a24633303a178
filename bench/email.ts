// Email bridge benchmark (`npm run bench -- email [mails]`): on the real stack (Redis, the embedded
// homeserver, the host), with a private Postfix.
// - SMTP accept rate: small mails over 8 pipelining connections until every 250, against a plain
//   smtp-server that stores nothing, in the same run (the ratio is the cost of fsyncing each mail);
// - inbound end to end: from the first MAIL FROM until every mail is an event in Matrix;
// - the spool alone (write + fsync + commit, no SMTP), what bounds the accept rate;
// - outbound through Postfix: Matrix messages until every mail is a file in the Maildir;
// - memory: RSS and heap while a 20 MB attachment is accepted, and while it is delivered.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { connect } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { EmailBridge, emailDescriptor } from '../bridges/email/EmailBridge.js';
import type { EmailConfig } from '../bridges/email/EmailConfig.js';
import { MailSpool } from '../bridges/email/MailSpool.js';
import { PluginConfigValidator } from '../core/plugin/PluginConfigValidator.js';
import { startEmailStack } from '../bridges/email/test/EmailTestStack.js';
import { PostfixServer } from '../bridges/email/test/PostfixServer.js';
import { swaks } from '../bridges/email/test/Swaks.js';
import { freePort } from '../test/e2e/PatchbayProcess.js';
import { createFakeContext, enc, waitFor } from '../testkit/index.js';
import { progress, round } from './BenchModule.js';

const CONNECTIONS = 8;
const MB = 1024 * 1024;

/** One SMTP connection that pipelines MAIL, RCPT and DATA (RFC 2920) and counts replies: a cheap client. */
async function rawSender(port: number, count: () => number | null, to: string, from: string, body: (i: number) => string): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  let buffer = '';
  let waiting: { n: number; resolve: (lines: string[]) => void } | null = null;
  const replies: string[] = [];
  socket.on('data', (d: string) => {
    buffer += d;
    let i: number;
    while ((i = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, i).trim();
      buffer = buffer.slice(i + 1);
      if (/^\d{3} /.test(line)) replies.push(line);
    }
    if (waiting !== null && replies.length >= waiting.n) {
      const w = waiting;
      waiting = null;
      w.resolve(replies.splice(0, w.n));
    }
  });
  const expect = (n: number) => new Promise<string[]>((resolve) => {
    waiting = { n, resolve };
    socket.emit('data', '');
  });
  await expect(1);
  socket.write('EHLO bench.test\r\n');
  await expect(1);
  for (let i = count(); i !== null; i = count()) {
    socket.write(`MAIL FROM:<${from}>\r\nRCPT TO:<${to}>\r\nDATA\r\n`);
    const r = await expect(3);
    if (!r[2]!.startsWith('354')) throw new Error(`SMTP refused: ${r.join(' | ')}`);
    socket.write(`${body(i)}\r\n.\r\n`);
    const done = await expect(1);
    if (!done[0]!.startsWith('250')) throw new Error(`SMTP refused: ${done[0]}`);
  }
  socket.end('QUIT\r\n');
}

async function blast(port: number, mails: number, to: string, from = 'bench@example.org'): Promise<number> {
  const started = performance.now();
  let next = 0;
  const count = () => (next < mails ? next++ : null);
  const body = (i: number) => `From: Bench <${from}>\r\nSubject: bench ${i}\r\nMessage-Id: <bench-${i}-${started}@example.org>\r\n\r\nmail number ${i}`;
  await Promise.all(Array.from({ length: CONNECTIONS }, () => rawSender(port, count, to, from, body)));
  return (performance.now() - started) / 1000;
}

async function plainServerRate(mails: number): Promise<number> {
  const server = new SMTPServer({ authOptional: true, disabledCommands: ['AUTH', 'STARTTLS'], logger: false, onData: (s, _session, cb) => { s.on('data', () => undefined); s.on('end', () => cb()); } });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as AddressInfo).port;
  await blast(port, 200, 'x@plain.test');
  const seconds = await blast(port, mails, 'x@plain.test');
  await new Promise<void>((r) => server.close(() => r()));
  return mails / seconds;
}

/** The same bridge code with Matrix faked in memory: the SMTP path without the real delivery's CPU beside it. */
async function fakeMatrixAcceptRate(mails: number): Promise<number> {
  const section = { domains: ['bridge.test'], smtp: { port: 0, rate_limit: { messages_per_minute: 1_000_000, burst: 1_000_000, connections_per_minute: 1_000_000 } }, sender_checks: { default: 'off' } };
  const { config } = new PluginConfigValidator().validate('email', section, emailDescriptor.configSchema);
  const bridge = new EmailBridge();
  const fake = createFakeContext(emailDescriptor, config as unknown as EmailConfig);
  fake.hs.profiles.set('@alice:hs.test', { displayName: 'alice' });
  await bridge.start(fake.ctx);
  await blast(bridge.smtpPort, 200, 'alice@bridge.test');
  const seconds = await blast(bridge.smtpPort, mails, 'alice@bridge.test');
  await bridge.stop();
  return mails / seconds;
}

async function spoolOnlyRate(mails: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-spool-'));
  const spool = new MailSpool(dir);
  await spool.open();
  const body = Buffer.from('From: bench@example.org\r\nSubject: x\r\n\r\nmail\r\n');
  const started = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next++ < mails) {
      const id = spool.newId();
      const { size } = await spool.write(id, Readable.from([body]), 1e9, () => false);
      await spool.commit({ id, receivedAt: Date.now(), mailFrom: null, rcptTo: ['a@b.test'], remoteAddress: '127.0.0.1', helo: 'x', secure: false, size });
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  const rate = mails / ((performance.now() - started) / 1000);
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

/** Peak RSS and heap (MB above the start) while `work` runs, sampled every 10 ms. */
async function peakMemory<T>(work: () => Promise<T>): Promise<{ result: T; rss_mb: number; heap_mb: number }> {
  const base = process.memoryUsage();
  let rss = 0;
  let heap = 0;
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss - base.rss);
    heap = Math.max(heap, m.heapUsed + m.arrayBuffers - base.heapUsed - base.arrayBuffers);
  }, 10);
  try {
    const result = await work();
    return { result, rss_mb: round(rss / MB, 1), heap_mb: round(heap / MB, 1) };
  } finally {
    clearInterval(timer);
  }
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const mails = Number(args[0] ?? 2000);
  const out = Number(args[1] ?? 300);
  progress(`plain smtp-server, ${mails} mails`);
  const plain = await plainServerRate(mails);
  progress('the bridge with Matrix faked in memory');
  const fakeRate = await fakeMatrixAcceptRate(mails);
  progress('the spool alone');
  const spoolRate = await spoolOnlyRate(mails);

  const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-email-'));
  const bridgePort = await freePort();
  const postfix = new PostfixServer({ bridgeDomains: ['bridge.test'], bridgePort });
  await postfix.start();
  const t = await startEmailStack({
    domains: ['bridge.test'],
    smtp: { port: bridgePort, max_message_bytes: 40 * MB, rate_limit: { messages_per_minute: 1_000_000, burst: 1_000_000, connections_per_minute: 1_000_000 } } as never,
    sender_checks: { default: 'warn', domains: {} },
    outbound: { relay: { host: '127.0.0.1', port: postfix.port, require_tls: false } } as never,
  }).catch(async (err: unknown) => {
    await postfix.stop();
    throw err;
  });
  try {
    const alice = await t.registerUser('alice');
    const delivered = async (): Promise<number> => Number(/patchbay_email_mails_total\{direction="in",outcome="delivered"\} (\d+)/.exec(await t.metrics())?.[1] ?? 0);
    progress('warm-up');
    await blast(bridgePort, 200, 'alice@bridge.test');
    await waitFor(async () => (await delivered()) >= 200, 120_000, 'the warm-up in Matrix');

    progress(`inbound: ${mails} mails`);
    const before = await delivered();
    const started = performance.now();
    const acceptSeconds = await blast(bridgePort, mails, 'alice@bridge.test');
    await waitFor(async () => (await delivered()) >= before + mails, 600_000, 'every mail in Matrix', 50);
    const endToEndSeconds = (performance.now() - started) / 1000;

    progress('20 MB attachment');
    // Sent by swaks, another process, so the memory measured is the bridge's side alone.
    const bigPath = join(dir, 'big.bin');
    writeFileSync(bigPath, Buffer.alloc(20 * MB, 7));
    const beforeBig = await delivered();
    const accept = await peakMemory(() => swaks({ server: '127.0.0.1', port: bridgePort, from: 'bench@example.org', to: 'alice@bridge.test', body: 'big', attach: { path: bigPath, type: 'application/octet-stream' } }));
    const deliver = await peakMemory(() => waitFor(async () => (await delivered()) > beforeBig, 120_000, 'the big mail in Matrix', 50));

    progress(`outbound: ${out} messages through Postfix`);
    // A conversation with an address Postfix delivers to its Maildir.
    await blast(bridgePort, 1, 'alice@bridge.test', 'bob@maildir.test');
    const room = await t.dmOf(alice, 'bob@maildir.test');
    await alice.http.ok('POST', `/join/${enc(room)}`, { body: {} });
    const outStarted = performance.now();
    for (let i = 0; i < out; i++) {
      await alice.http.ok('PUT', `/rooms/${enc(room)}/send/m.room.message/b${i}`, { body: { msgtype: 'm.text', body: `reply ${i}` } });
    }
    await waitFor(() => postfix.delivered().length >= out, 300_000, 'every mail in the Maildir', 50);
    const outSeconds = (performance.now() - outStarted) / 1000;

    const acceptRate = mails / acceptSeconds;
    return {
      mails,
      connections: CONNECTIONS,
      smtp_accept_per_s: round(acceptRate, 0),
      plain_smtp_server_per_s: round(plain, 0),
      accept_ratio_to_plain: round(acceptRate / plain, 2),
      smtp_accept_fake_matrix_per_s: round(fakeRate, 0),
      fake_matrix_ratio_to_plain: round(fakeRate / plain, 2),
      spool_write_fsync_commit_per_s: round(spoolRate, 0),
      inbound_end_to_end_per_s: round(mails / endToEndSeconds, 0),
      outbound_through_postfix_per_s: round(out / outSeconds, 0),
      outbound_messages: out,
      attachment_20mb: {
        accept_peak_rss_mb: accept.rss_mb,
        accept_peak_heap_and_buffers_mb: accept.heap_mb,
        deliver_peak_rss_mb: deliver.rss_mb,
        deliver_peak_heap_and_buffers_mb: deliver.heap_mb,
      },
      note: 'one process: bench client, bridge, host, embedded homeserver (the 20 MB mail comes from swaks, another process)',
    };
  } finally {
    await t.stop();
    await postfix.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
