// Mail both ways through a real Postfix (Debian, a private instance): Postfix relays bridge.test mail to
// the bridge (opportunistic STARTTLS with the bridge's certificate), the bridge sends through Postfix as
// its relay, and Postfix delivers to a Maildir the test reads: headers, threading, attachments and a
// DKIM signature that mailauth verifies. A recipient Postfix refuses bounces back to the VERP address
// and marks the Matrix event that sent it. The Matrix side is matrix-js-sdk.
import { generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MatrixClient } from 'matrix-js-sdk';
import { freePort } from '../../../test/e2e/PatchbayProcess.js';
import { startSdkClient } from '../../../test/harness/sdkClient.js';
import { waitFor, type TestUser } from '../../../testkit/index.js';
import { PostfixServer } from './PostfixServer.js';
import { startEmailStack, staticResolver, TEST_DNS, type EmailTestStack, type TimelineEvent } from './EmailTestStack.js';
import { swaks } from './Swaks.js';
import { makeTestCertificate } from './TestCertificate.js';

type Authenticate = (input: Buffer, opts: Record<string, unknown>) => Promise<{ dkim: { results: Array<{ signingDomain: string; status: { result: string } }> } }>;
const { authenticate } = createRequire(import.meta.url)('mailauth') as { authenticate: Authenticate };

const header = (mail: string, name: string): string | undefined =>
  new RegExp(`^${name}:[ \\t]*((?:.*)(?:\\n[ \\t].*)*)`, 'im').exec(mail)?.[1]?.replace(/\n[ \t]+/g, ' ').trim();

describe('email bridge through Postfix, with matrix-js-sdk users', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-email-relay-'));
  let postfix: PostfixServer;
  let t: EmailTestStack;
  let alice: TestUser;
  let client: MatrixClient;
  let dns: Record<string, string[][]>;
  const text = (e: TimelineEvent) => String(e.content.body ?? '');
  const mailTo = (address: string, match: (m: string) => boolean, what: string) =>
    waitFor(() => postfix.delivered().find((m) => header(m, 'Delivered-To') === address && match(m)), 30_000, what);

  beforeAll(async () => {
    const bridgePort = await freePort();
    postfix = new PostfixServer({ bridgeDomains: ['bridge.test'], bridgePort });
    await postfix.start();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyFile = join(dir, 'dkim.pem');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const p = (publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64');
    dns = { ...TEST_DNS, 'pb._domainkey.bridge.test': [[`v=DKIM1; k=rsa; p=${p}`]], 'bridge.test': [['v=spf1 ip4:127.0.0.1 -all']] };
    t = await startEmailStack(
      {
        domains: ['bridge.test'],
        smtp: { port: bridgePort, tls: makeTestCertificate(dir, 'mx.bridge.test') } as never,
        outbound: { relay: { host: '127.0.0.1', port: postfix.port, require_tls: false }, dkim: { selector: 'pb', private_key_file: keyFile } } as never,
      },
      { dnsResolver: staticResolver(dns) },
    );
    alice = await t.registerUser('alice');
    client = await startSdkClient(t.stack.hs.url, alice);
  });

  afterAll(async () => {
    client?.stopClient();
    await t?.stop();
    await postfix?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a conversation both ways: a mail relayed by Postfix, a threaded reply from Matrix delivered to the Maildir, DKIM-signed', async () => {
    const sent = await swaks({ server: '127.0.0.1', port: postfix.port, from: 'bob@maildir.test', to: 'alice@bridge.test', header: { From: 'Bob <bob@maildir.test>', Subject: 'Quarterly report', 'Message-Id': '<q1@maildir.test>' }, body: 'Numbers attached soon.' });
    expect(sent.lastReply).toMatch(/^250 /);
    const room = await t.dmOf(alice, 'bob@maildir.test');
    const first = await t.find(alice, room, (e) => text(e).includes('Numbers attached soon'), 'the relayed mail');
    expect(postfix.log()).toMatch(/relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+.*status=sent/);
    expect(postfix.log()).toMatch(/Trusted TLS connection|Untrusted TLS connection|Anonymous TLS connection/);

    await client.sendMessage(room, first.event_id, { msgtype: 'm.text', body: 'Thanks, **looking forward** to it.' } as never);
    const reply = await mailTo('bob@maildir.test', (m) => m.includes('looking forward'), 'the reply in the Maildir');
    expect(header(reply, 'From')).toBe('alice <alice@bridge.test>');
    expect(header(reply, 'To')).toBe('bob@maildir.test');
    expect(header(reply, 'Subject')).toBe('Re: Quarterly report');
    expect(header(reply, 'In-Reply-To')).toBe('<q1@maildir.test>');
    expect(header(reply, 'References')).toBe('<q1@maildir.test>');
    expect(header(reply, 'Return-Path')).toMatch(/^<bounces\+[0-9a-f]{20}@bridge\.test>$/);
    expect(header(reply, 'Content-Type')).toMatch(/^multipart\/alternative/);
    expect(reply).toContain('<strong>looking forward</strong>');
    const auth = await authenticate(Buffer.from(reply), { ip: '127.0.0.1', helo: 'relay.test', sender: 'x@bridge.test', mta: 'maildir.test', resolver: staticResolver(dns) });
    expect(auth.dkim.results.map((r) => [r.signingDomain, r.status.result])).toEqual([['bridge.test', 'pass']]);

    // Bob answers the reply: it lands in the same Matrix thread.
    const messageId = /<([^>]+)>/.exec(header(reply, 'Message-Id') ?? '')![1]!;
    await swaks({ server: '127.0.0.1', port: postfix.port, from: 'bob@maildir.test', to: 'alice@bridge.test', header: { Subject: 'Re: Quarterly report', 'In-Reply-To': `<${messageId}>`, References: `<q1@maildir.test> <${messageId}>` }, body: 'Here they are.' });
    const answer = await t.find(alice, room, (e) => text(e).includes('Here they are'), 'bob\'s answer');
    expect(answer.content['m.relates_to']).toMatchObject({ rel_type: 'm.thread', event_id: first.event_id });
  });

  it('attachments both ways: a file from Matrix is attached to the mail; an attachment from mail becomes a file in the thread', async () => {
    const room = await t.dmOf(alice, 'bob@maildir.test');
    const upload = await client.uploadContent(Buffer.from('a,b\n1,2\n'), { name: 'numbers.csv', type: 'text/csv' });
    await client.sendMessage(room, { msgtype: 'm.file', body: 'numbers.csv', url: upload.content_uri, info: { mimetype: 'text/csv', size: 8 } } as never);
    const mail = await mailTo('bob@maildir.test', (m) => m.includes('numbers.csv'), 'the mail with the attachment');
    expect(mail).toMatch(/Content-Disposition: attachment; filename=numbers\.csv/);
    expect(mail).toContain(Buffer.from('a,b\n1,2\n').toString('base64'));

    const csv = join(dir, 'report.csv');
    writeFileSync(csv, 'q,revenue\n1,100\n');
    await swaks({ server: '127.0.0.1', port: postfix.port, from: 'bob@maildir.test', to: 'alice@bridge.test', header: { Subject: 'The report', 'In-Reply-To': '<q1@maildir.test>' }, body: 'see attachment', attach: { path: csv, type: 'text/csv' } });
    const file = await t.find(alice, room, (e) => e.content.msgtype === 'm.file' && e.content.body === 'report.csv', 'the file in Matrix');
    expect((file.content['m.relates_to'] as { rel_type?: string }).rel_type).toBe('m.thread');
  });

  it('a bounce comes back to the VERP address and marks the Matrix event that caused it', async () => {
    const { room_id: room } = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'trusted_private_chat', is_direct: true, invite: ['@email_carol=40bounce.test:localhost'] } });
    await waitFor(async () => (await t.ctx().links.remotesFor(room)).length > 0, 20_000, 'the DM to be linked to carol');
    const { event_id: eventId } = await client.sendMessage(room, { msgtype: 'm.text', body: 'Hello Carol' } as never);
    const notice = await t.find(alice, room, (e) => text(e).startsWith('⚠️ Not delivered'), 'the bounce notice');
    expect(text(notice)).toMatch(/^⚠️ Not delivered: carol@bounce\.test: 5\.1\.1 .*no such user here/);
    expect(notice.content['m.relates_to']).toEqual({ 'm.in_reply_to': { event_id: eventId } });
    const reaction = await t.find(alice, room, (e) => e.type === 'm.reaction', 'the ⚠️ reaction');
    expect(reaction.content['m.relates_to']).toEqual({ rel_type: 'm.annotation', event_id: eventId, key: '⚠️ not delivered' });
    expect(await t.metrics()).toMatch(/patchbay_email_mails_total\{direction="in",outcome="bounce"\} 1/);
  });

  it('the SMTP listener and the relay report connected (what /health, doctor and /metrics show)', async () => {
    const states = await t.ctx().status.all();
    expect(states.map((s) => [s.connection, s.state]).sort()).toEqual([['relay', 'connected'], ['smtp', 'connected']]);
  });
});
