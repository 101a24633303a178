// A corpus of real-world-shaped MIME, written here, through the bridge's reader and renderer: each mail
// parses into something a person can read, or says clearly what could not be read; nothing throws. Plus
// the pure parts: quote stripping, HTML sanitising, delivery reports, addresses, Markdown for mail.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from '@jest/globals';
import { parseDeliveryReport } from '../DeliveryReport.js';
import { renderMail } from '../InboundContent.js';
import { parseAddress } from '../MailAddress.js';
import { sanitizeMailHtml } from '../MailHtml.js';
import { readMail } from '../MailReader.js';
import { markdownToHtml, withoutReplyFallback } from '../OutboundComposer.js';
import { stripQuotedText } from '../QuoteStripper.js';

const dir = mkdtempSync(join(tmpdir(), 'patchbay-email-mime-'));
let n = 0;
const read = (raw: string | Buffer) => readMail(Readable.from([Buffer.from(raw)]), join(dir, String(++n)));
const crlf = (lines: string[]) => lines.join('\r\n');
const render = async (raw: string | Buffer) => renderMail(await read(raw), { stripQuotes: true, inlineImages: new Map(), showSubject: true, warning: null }).content;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('MIME corpus: parsed, or refused with a reason; nothing crashes', () => {
  it('nested multiparts (mixed > alternative > related with an inline image): text, HTML with cid:, an attachment', async () => {
    const mail = await read(crlf([
      'From: Ann <ann@example.org>', 'Subject: nested', 'Message-Id: <n1@example.org>', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="m"', '',
      '--m', 'Content-Type: multipart/alternative; boundary="a"', '',
      '--a', 'Content-Type: text/plain; charset=utf-8', '', 'plain part', '',
      '--a', 'Content-Type: multipart/related; boundary="r"', '',
      '--r', 'Content-Type: text/html; charset=utf-8', '', '<p>html part <img src="cid:logo@x"></p>', '',
      '--r', 'Content-Type: image/png', 'Content-Transfer-Encoding: base64', 'Content-ID: <logo@x>', '', 'iVBORw0KGgo=', '--r--', '',
      '--a--', '',
      '--m', 'Content-Type: application/pdf; name="a.pdf"', 'Content-Disposition: attachment; filename="a.pdf"', 'Content-Transfer-Encoding: base64', '', 'JVBERi0xLjQK', '--m--', '',
    ]));
    expect(mail.text?.trim()).toBe('plain part');
    expect(mail.html).toContain('cid:logo@x');
    expect(mail.attachments.map((a) => [a.filename, a.contentType, a.cid, a.related, a.size])).toEqual([
      ['attachment-1', 'image/png', 'logo@x', true, 8],
      ['a.pdf', 'application/pdf', null, false, 9],
    ]);
    expect(readFileSync(mail.attachments[1]!.path, 'utf8')).toBe('%PDF-1.4\n');
    const html = renderMail(mail, { stripQuotes: true, inlineImages: new Map([['logo@x', 'mxc://hs/logo']]), showSubject: false, warning: null }).content.formatted_body;
    expect(html).toContain('<img src="mxc://hs/logo" />');
  });

  it('a broken inner boundary: the body is reported unreadable (and the original kept), not passed off as empty', async () => {
    const mail = await read(crlf([
      'From: b@example.org', 'Subject: broken', 'Content-Type: multipart/mixed; boundary="outer"', '',
      '--wrong', 'Content-Type: text/plain', '', 'lost text', '--wrong--', '',
    ]));
    expect(mail.problems).toEqual(['its MIME structure is broken (no part matched the declared boundary), so its body could not be read']);
    expect((await render(crlf(['From: b@example.org', 'Subject: broken', 'Content-Type: multipart/mixed; boundary="outer"', '', '--wrong', '', 'x', '']))).body).toContain('could not be shown completely');
  });

  it('odd charsets and encodings: ISO-8859-1 quoted-printable, ISO-2022-JP, windows-1252 base64, encoded words', async () => {
    const latin = await render(crlf(['From: =?ISO-8859-1?Q?J=F6rg?= <j@example.org>', 'Subject: =?ISO-8859-1?Q?Gr=FC=DFe?=', 'Content-Type: text/plain; charset=ISO-8859-1', 'Content-Transfer-Encoding: quoted-printable', '', 'Sch=F6ne Gr=FC=DFe aus K=F6ln=', 'er Stra=DFe', '']));
    expect(latin.body).toBe('Grüße\n\nSchöne Grüße aus Kölner Straße');
    const jis = Buffer.concat([Buffer.from('From: t@example.jp\r\nSubject: jis\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\r\n'), Buffer.from([0x1b, 0x24, 0x42, 0x24, 0x33, 0x24, 0x73, 0x1b, 0x28, 0x42, 0x0d, 0x0a])]);
    expect((await render(jis)).body).toBe('jis\n\nこん');
    const cp = await render(crlf(['From: w@example.org', 'Subject: cp', 'Content-Type: text/plain; charset=windows-1252', 'Content-Transfer-Encoding: base64', '', Buffer.from([0x93, 0x71, 0x94, 0x20, 0x80]).toString('base64'), '']));
    expect(cp.body).toBe('cp\n\n“q” €');
  });

  it('winmail.dat and a calendar invite arrive as attachments, the invite with its method', async () => {
    const mail = await read(crlf([
      'From: o@example.org', 'Subject: Meeting', 'Content-Type: multipart/mixed; boundary="b"', '',
      '--b', 'Content-Type: text/plain', '', 'see invite', '',
      '--b', 'Content-Type: text/calendar; charset=utf-8; method=REQUEST', '', 'BEGIN:VCALENDAR', 'METHOD:REQUEST', 'BEGIN:VEVENT', 'SUMMARY:Sync', 'END:VEVENT', 'END:VCALENDAR', '',
      '--b', 'Content-Type: application/ms-tnef; name="winmail.dat"', 'Content-Disposition: attachment; filename="winmail.dat"', 'Content-Transfer-Encoding: base64', '', 'eJ8+IgAA', '--b--', '',
    ]));
    expect(mail.attachments.map((a) => [a.filename, a.contentType, a.calendarMethod])).toEqual([
      ['invite.ics', 'text/calendar', 'REQUEST'],
      ['winmail.dat', 'application/ms-tnef', null],
    ]);
  });

  it('a 1,000-recipient To: header is read (the first 50 kept), a mail without Message-ID gets a stable one', async () => {
    const to = Array.from({ length: 1000 }, (_, i) => `user${i}@example.org`).join(', ');
    const raw = crlf(['From: big@example.org', `To: ${to}`, 'Subject: all hands', '', 'hello everyone', '']);
    const a = await read(raw);
    const b = await read(raw);
    expect(a.to).toHaveLength(50);
    expect(a.messageId).toMatch(/^sha256-[0-9a-f]{40}@patchbay\.invalid$/);
    expect(b.messageId).toBe(a.messageId);
  });

  it('headers only, an empty body, garbage, and a truncated base64 part: each renders, none throws', async () => {
    for (const raw of ['From: x@example.org\r\n\r\n', 'not a mail at all\u0000\u0001', crlf(['From: x@example.org', 'Content-Type: multipart/mixed; boundary=q', '', '--q', 'Content-Type: image/png', 'Content-Transfer-Encoding: base64', '', 'iVBORw0K'])]) {
      const content = await render(raw);
      expect(typeof content.body).toBe('string');
    }
  });
});

describe('the parts that shape text', () => {
  it('strips a trailing quote with its attribution and a signature, keeps interleaved quotes, never strips to nothing', () => {
    expect(stripQuotedText('Yes.\n\nOn Tue, 2 Jan 2024 at 10:00, Bob <bob@example.org> wrote:\n> Coming?\n> \n')).toBe('Yes.');
    expect(stripQuotedText('Sure\n-- \nBob\nCEO')).toBe('Sure');
    expect(stripQuotedText('> a question\nan answer\n> another\nanother answer')).toBe('> a question\nan answer\n> another\nanother answer');
    expect(stripQuotedText('Top\n\n-----Original Message-----\nFrom: x\n')).toBe('Top');
    expect(stripQuotedText('> only a quote')).toBe('> only a quote');
  });

  it('sanitises HTML: scripts, handlers and javascript: gone, remote images blocked, Gmail quotes cut', () => {
    const html = '<p onclick="x()">Hi<script>alert(1)</script></p><a href="javascript:alert(1)">x</a><img src="https://track.example/p.gif" alt="logo"><div class="gmail_quote">old</div>';
    expect(sanitizeMailHtml(html, { inlineImages: new Map(), stripQuotes: true })).toBe('<p>Hi</p><a>x</a><a href="https://track.example/p.gif">[image: logo]</a>');
    expect(sanitizeMailHtml('<div class="gmail_quote">old</div>', { inlineImages: new Map(), stripQuotes: false })).toBe('<div>old</div>');
  });

  it('reads delivery reports: per recipient action, status and diagnostic', () => {
    const dsn = crlf([
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b"', '', '--b', 'Content-Type: text/plain', '', 'bounced', '',
      '--b', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; relay.test', '', 'Final-Recipient: rfc822; carol@bounce.test', 'Action: failed', 'Status: 5.1.1',
      'Diagnostic-Code: X-Postfix; no such user', '  here', '', '--b--', '',
    ]);
    expect(parseDeliveryReport(dsn)).toEqual([{ recipient: 'carol@bounce.test', action: 'failed', status: '5.1.1', diagnostic: 'no such user here' }]);
    expect(parseDeliveryReport('Subject: just text\r\n\r\nbody')).toBeNull();
  });

  it('addresses: lower case, subaddress split, junk refused', () => {
    expect(parseAddress('<Alice+News@Bridge.TEST>')).toEqual({ address: 'alice+news@bridge.test', local: 'alice+news', base: 'alice', tag: 'news', domain: 'bridge.test' });
    for (const bad of ['no-at', 'a@b@c', '"quoted"@x.org', 'a..b@x.org', 'a@-x.org', `${'x'.repeat(65)}@x.org`]) expect(parseAddress(bad)).toBeNull();
  });

  it('Matrix text for mail: Markdown to HTML, the reply fallback dropped', () => {
    expect(markdownToHtml('**bold** and *it* and `code` <tag>\nhttps://example.org/x')).toBe('<p><strong>bold</strong> and <em>it</em> and <code>code</code> &lt;tag&gt;<br>\n<a href="https://example.org/x">https://example.org/x</a></p>');
    expect(withoutReplyFallback('> <@bob:hs> earlier\n> more\n\nmy answer')).toBe('my answer');
  });
});
