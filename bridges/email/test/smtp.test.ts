// Inbound SMTP on the real stack, with swaks (Debian) as the client: what gets a 250 reaches Matrix as a
// DM from the sender's ghost; what must not (foreign domains, unknown addresses, oversized mail, senders
// that fail their domain's checks, a client over its rate) is refused in the SMTP transaction.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitFor, type TestUser } from '../../../testkit/index.js';
import { RawSmtpClient } from './RawSmtpClient.js';
import { startEmailStack, type EmailTestStack, type TimelineEvent } from './EmailTestStack.js';
import { swaks } from './Swaks.js';
import { makeTestCertificate } from './TestCertificate.js';

const MB = 1024 * 1024;

describe('email bridge: inbound SMTP (swaks -> bridge -> embedded homeserver)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-email-smtp-'));
  let t: EmailTestStack;
  let alice: TestUser;
  const send = (o: Partial<Parameters<typeof swaks>[0]> & { to: string | string[] }) =>
    swaks({ server: '127.0.0.1', port: t.smtpPort(), from: 'bob@example.org', ...o });
  const text = (e: TimelineEvent) => String(e.content.body ?? '');

  beforeAll(async () => {
    t = await startEmailStack({
      domains: ['bridge.test'],
      smtp: { port: 0, tls: makeTestCertificate(dir, 'mx.bridge.test'), max_message_bytes: 30 * MB, rate_limit: { messages_per_minute: 30, burst: 30, connections_per_minute: 600 } } as never,
      sender_checks: { default: 'warn', domains: { 'bank.test': 'reject' } },
    });
    alice = await t.registerUser('alice');
  });

  afterAll(async () => {
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a mail to alice@ opens a DM from the sender\'s ghost, named from From:, with the subject and text', async () => {
    const r = await send({ to: 'alice@bridge.test', header: { From: 'Bob Example <bob@example.org>', Subject: 'Lunch?', 'Message-Id': '<m1@example.org>' }, body: 'Shall we meet at noon?' });
    expect(r.lastReply).toMatch(/^250 /);
    const room = await t.dmOf(alice, 'bob@example.org');
    const msg = await t.find(alice, room, (e) => text(e).includes('noon'), 'the mail in the DM');
    expect(msg.sender).toBe('@email_bob=40example.org:localhost');
    expect(text(msg)).toBe('Lunch?\n\nShall we meet at noon?');
    expect(msg.content['org.patchbay.email']).toMatchObject({ message_id: 'm1@example.org', from: 'bob@example.org', subject: 'Lunch?', auth: { spf: 'pass' } });
    const profile = await alice.http.ok<{ displayname?: string }>('GET', `/profile/${encodeURIComponent(msg.sender)}`);
    expect(profile.displayname).toBe('Bob Example');
  });

  it('a reply (In-Reply-To) goes into the first mail\'s Matrix thread, its quoted tail stripped but kept one click away', async () => {
    const body = 'Noon works.\n\nOn Mon, 1 Jan 2024, Alice wrote:\n> Shall we meet at noon?\n';
    const r = await send({ to: 'alice@bridge.test', header: { Subject: 'Re: Lunch?', 'Message-Id': '<m2@example.org>', 'In-Reply-To': '<m1@example.org>', References: '<m1@example.org>' }, body });
    expect(r.lastReply).toMatch(/^250 /);
    const room = await t.dmOf(alice, 'bob@example.org');
    const first = await t.find(alice, room, (e) => (e.content['org.patchbay.email'] as { message_id?: string } | undefined)?.message_id === 'm1@example.org', 'm1');
    const reply = await t.find(alice, room, (e) => text(e).startsWith('Noon works'), 'the reply');
    expect(text(reply)).toBe('Noon works.');
    expect(reply.content['m.relates_to']).toMatchObject({ rel_type: 'm.thread', event_id: first.event_id, 'm.in_reply_to': { event_id: first.event_id } });
    expect(String(reply.content.formatted_body)).toContain('<details><summary>Show the whole mail</summary>');
  });

  it('the same Message-ID sent twice is delivered once', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await send({ to: 'alice@bridge.test', header: { Subject: 'Twice', 'Message-Id': '<dup@example.org>' }, body: 'only once please' });
      expect(r.lastReply).toMatch(/^250 /);
    }
    const room = await t.dmOf(alice, 'bob@example.org');
    await t.find(alice, room, (e) => text(e).includes('only once please'), 'the duplicate');
    // Both transactions are through once the spool is empty: count then.
    const spool = join(t.ctx().dataDir, 'spool', 'new');
    await waitFor(() => readdirSync(spool).length === 0, 20_000, 'the spool to empty');
    expect((await t.timeline(alice, room)).filter((e) => text(e).includes('only once please'))).toHaveLength(1);
  });

  it('refuses relaying (a foreign domain) and unknown addresses at RCPT, with 550', async () => {
    const relay = await send({ to: 'someone@elsewhere.example' });
    expect(relay.lastReply).toMatch(/^550 5\.7\.1 .*relay access denied/);
    const unknown = await send({ to: 'nobody-here@bridge.test' });
    expect(unknown.lastReply).toMatch(/^550 5\.1\.1 <nobody-here@bridge\.test>: no such recipient here/);
    const metrics = await t.metrics();
    expect(metrics).toMatch(/patchbay_email_smtp_rejections_total\{reason="relay"\} [1-9]/);
    expect(metrics).toMatch(/patchbay_email_smtp_rejections_total\{reason="unknown_recipient"\} [1-9]/);
  });

  it('STARTTLS with the operator\'s certificate, pipelining, and subaddressing (alice+news@)', async () => {
    const r = await send({ to: 'alice+news@bridge.test', tls: true, pipeline: true, header: { Subject: 'Over TLS' }, body: 'encrypted on the way' });
    expect(r.out).toMatch(/TLS started/);
    expect(r.out).toMatch(/PIPELINING/);
    expect(r.lastReply).toMatch(/^250 /);
    const room = await t.dmOf(alice, 'bob@example.org');
    await t.find(alice, room, (e) => text(e).includes('encrypted on the way'), 'the TLS mail');
  });

  it('8BITMIME: a raw 8-bit UTF-8 body and an ISO-2022-JP encoded-word subject arrive as written', async () => {
    const c = new RawSmtpClient();
    expect(await c.connect(t.smtpPort())).toMatch(/^220 /);
    const ehlo = await c.send('EHLO raw.test');
    expect(ehlo).toMatch(/8BITMIME/);
    expect(await c.send('MAIL FROM:<carol@example.org> BODY=8BITMIME')).toMatch(/^250 /);
    expect(await c.send('RCPT TO:<alice@bridge.test>')).toMatch(/^250 /);
    expect(await c.send('DATA')).toMatch(/^354 /);
    const mail = [
      'From: =?UTF-8?Q?Zo=C3=AB?= <carol@example.org>',
      'Subject: =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=',
      'Message-Id: <8bit@example.org>',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'Grüße aus Köln — 日本語も。',
      '.',
      '',
    ].join('\r\n');
    expect(await c.send(mail)).toMatch(/^250 /);
    await c.send('QUIT');
    c.close();
    const room = await t.dmOf(alice, 'carol@example.org');
    const msg = await t.find(alice, room, (e) => text(e).includes('Köln'), 'the 8-bit mail');
    expect(text(msg)).toBe('こんにちは\n\nGrüße aus Köln — 日本語も。');
  });

  it('a 20 MB attachment is streamed in and arrives whole in Matrix; a mail over the size limit gets 552', async () => {
    const path = join(dir, 'big.bin');
    const bytes = Buffer.alloc(20 * MB);
    for (let i = 0; i < bytes.length; i += 4096) bytes.writeUInt32LE(i, i);
    writeFileSync(path, bytes);
    const r = await send({ to: 'alice@bridge.test', header: { Subject: 'Big file' }, body: 'see attached', attach: { path, type: 'application/octet-stream' } });
    expect(r.lastReply).toMatch(/^250 /);
    const room = await t.dmOf(alice, 'bob@example.org');
    const file = await t.find(alice, room, (e) => e.content.msgtype === 'm.file' && e.content.body === 'big.bin', 'the attachment');
    expect((file.content.info as { size: number }).size).toBe(20 * MB);
    const url = String(file.content.url).slice('mxc://'.length);
    const res = await fetch(`${t.stack.hs.url}/_matrix/client/v1/media/download/${url}`, { headers: { authorization: `Bearer ${alice.accessToken}` } });
    expect(createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));

    const hugePath = join(dir, 'huge.bin');
    writeFileSync(hugePath, Buffer.alloc(24 * MB));
    const huge = await send({ to: 'alice@bridge.test', body: 'too big', attach: { path: hugePath, type: 'application/octet-stream' } });
    expect(huge.lastReply).toMatch(/^552 5\.3\.4 /);
  });

  it('sender checks: a domain whose policy is reject gets 550 at SMTP time; another failing domain is delivered with a warning', async () => {
    const bank = await send({ from: 'alerts@bank.test', to: 'alice@bridge.test', header: { From: 'alerts@bank.test', Subject: 'Verify your account' }, body: 'click here' });
    expect(bank.lastReply).toMatch(/^550 5\.7\.1 Sender checks failed for bank\.test \(SPF fail, DKIM none, DMARC fail\)/);
    const spoof = await send({ from: 'ceo@spoof.test', to: 'alice@bridge.test', header: { From: 'ceo@spoof.test', Subject: 'Wire money' }, body: 'urgent' });
    expect(spoof.lastReply).toMatch(/^250 /);
    const room = await t.dmOf(alice, 'ceo@spoof.test');
    const msg = await t.find(alice, room, (e) => text(e).includes('urgent'), 'the spoofed mail');
    expect(text(msg)).toMatch(/^⚠️ This mail failed sender checks \(SPF fail, DKIM none, DMARC fail\): it may not really be from ceo@spoof\.test\./);
    expect(msg.content['org.patchbay.email']).toMatchObject({ auth: { spf: 'fail', dmarc: 'fail', failed: true } });
  });

  it('!email block in the admin room refuses that sender at RCPT from then on', async () => {
    const { room_id: admin } = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'private_chat', is_direct: true, invite: ['@email_bridge:localhost'] } });
    await t.find(alice, admin, (e) => text(e).startsWith('Email bridge commands'), 'the admin room help');
    await alice.http.ok('PUT', `/rooms/${encodeURIComponent(admin)}/send/m.room.message/block1`, { body: { msgtype: 'm.text', body: '!email block pest@example.org' } });
    await t.find(alice, admin, (e) => text(e) === 'Mail from pest@example.org is refused from now on.', 'the block confirmation');
    const r = await send({ from: 'pest@example.org', to: 'alice@bridge.test', body: 'buy now' });
    expect(r.lastReply).toMatch(/^550 5\.7\.1 <alice@bridge\.test> does not accept mail from <pest@example\.org>/);
  });

  it('a client over its message rate gets 451 (try later), not a refusal', async () => {
    let reply = '';
    for (let i = 0; i < 80 && !reply.startsWith('451'); i++) reply = (await send({ to: 'nobody@elsewhere.example', from: 'flood@example.org' })).lastReply;
    expect(reply).toMatch(/^451 4\.7\.1 Too many messages from 127\.0\.0\.1; try again later/);
  });
});
