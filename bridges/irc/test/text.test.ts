import { describe, expect, test } from '@jest/globals';
import { htmlToMirc, nearestMircColor } from '../HtmlToMirc.js';
import { splitIrcText, textByteBudget, utf8Length } from '../IrcMessageSplitter.js';
import { isSafeIrcToken, isValidChannelName, sanitizeOutgoingText } from '../IrcTextSanitizer.js';
import { mircToMatrix } from '../MircToHtml.js';

describe('splitIrcText', () => {
  test('short lines pass unchanged; LF makes separate lines; blank lines are dropped', () => {
    expect(splitIrcText('hello', 100)).toEqual(['hello']);
    expect(splitIrcText('one\n\ntwo\n  \nthree', 100)).toEqual(['one', 'two', 'three']);
  });

  test('breaks at word boundaries within the byte limit, losing no words', () => {
    const words = Array.from({ length: 200 }, (_, i) => `w${i}`);
    const lines = splitIrcText(words.join(' '), 50);
    for (const l of lines) expect(utf8Length(l)).toBeLessThanOrEqual(50);
    expect(lines.join(' ').split(' ')).toEqual(words);
  });

  test('counts UTF-8 bytes and never cuts inside a character or grapheme cluster', () => {
    const family = '👩‍👩‍👧‍👦'; // 25 bytes, one grapheme
    const text = `${'ä'.repeat(101)}${family.repeat(9)}日本語のテキスト`.repeat(3);
    const lines = splitIrcText(text, 60);
    for (const l of lines) {
      expect(utf8Length(l)).toBeLessThanOrEqual(60);
      expect(l).not.toMatch(/\uFFFD/);
      expect(Buffer.from(l, 'utf8').toString('utf8')).toBe(l);
    }
    expect(lines.join('')).toBe(text);
    expect(lines.join('').split(family).length - 1).toBe(27);
  });

  test('a pathological grapheme longer than the limit is cut by code point', () => {
    const zalgo = `a${'\u0301'.repeat(200)}`;
    const lines = splitIrcText(zalgo, 50);
    for (const l of lines) expect(utf8Length(l)).toBeLessThanOrEqual(50);
    expect(lines.join('')).toBe(zalgo);
  });

  test('formatting open at a cut is re-opened on the next line; colour codes keep their digits', () => {
    const text = `\x02\x0304,02${'bold red '.repeat(20)}\x02 end`;
    const lines = splitIrcText(text, 60);
    expect(lines.length).toBeGreaterThan(2);
    for (const l of lines.slice(1, -1)) expect(l.startsWith('\x02\x0304,02')).toBe(true);
    // Bold was closed before the last cut; the colour is still open.
    expect(lines[lines.length - 1]).toBe('\x0304,02end');
    for (const l of lines) expect(l).not.toMatch(/\x03(?!\d\d,\d\d)/);
  });

  test('budget: 512 minus CRLF and the relayed prefix', () => {
    const b = textByteBudget({ nick: 'alice', user: '~alice', host: 'example.org', command: 'PRIVMSG', target: '#chan' });
    expect(b).toBe(510 - ':alice!~alice@example.org '.length - 'PRIVMSG #chan :'.length);
    const action = textByteBudget({ nick: 'alice', user: '~alice', host: 'example.org', command: 'PRIVMSG', target: '#chan', action: true });
    expect(action).toBe(b - 9);
    // Unknown host: assume the worst a DNS label allows.
    expect(textByteBudget({ nick: 'alice', command: 'PRIVMSG', target: '#chan' })).toBeLessThan(b);
  });
});

describe('sanitizeOutgoingText', () => {
  test('CRLF, CR and Unicode line separators become line breaks: no command can be smuggled', () => {
    const evil = 'hi\r\nPRIVMSG NickServ :DROP\rQUIT\u2028x';
    const out = sanitizeOutgoingText(evil);
    expect(out).not.toMatch(/\r/);
    const lines = splitIrcText(out, 400);
    expect(lines).toEqual(['hi', 'PRIVMSG NickServ :DROP', 'QUIT', 'x']);
  });

  test('NUL, CTCP \\x01 and other controls are removed; formatting only when asked', () => {
    expect(sanitizeOutgoingText('\x01VERSION\x01 a\x00b\x07c\x7f')).toBe('VERSION abc');
    expect(sanitizeOutgoingText('\x02bold\x02\tx')).toBe('bold    x');
    expect(sanitizeOutgoingText('\x02bold\x02', true)).toBe('\x02bold\x02');
  });

  test('tokens and channel names', () => {
    expect(isSafeIrcToken('alice')).toBe(true);
    expect(isSafeIrcToken('a b')).toBe(false);
    expect(isSafeIrcToken('a\r\nQUIT')).toBe(false);
    expect(isSafeIrcToken(':x')).toBe(false);
    expect(isValidChannelName('#matrix')).toBe(true);
    expect(isValidChannelName('#a,#b')).toBe(false);
    expect(isValidChannelName('#a\x07')).toBe(false);
    expect(isValidChannelName('matrix')).toBe(false);
  });
});

describe('mIRC -> Matrix', () => {
  test('plain text has no formatted_body', () => {
    expect(mircToMatrix('plain <b> & text')).toEqual({ body: 'plain <b> & text', html: null });
  });

  test('bold, italic, underline, strike, monospace, colours; body stripped, HTML escaped', () => {
    const { body, html } = mircToMatrix('\x02b\x02 \x1di\x1d \x1fu\x1f \x1es\x1e \x11m\x11 \x0304,02red\x03 <x> \x04ff8800hex\x0f');
    expect(body).toBe('b i u s m red <x> hex');
    expect(html).toBe(
      '<b>b</b> <i>i</i> <u>u</u> <del>s</del> <code>m</code> <font data-mx-color="#ff0000" data-mx-bg-color="#00007f">red</font> &lt;x&gt; <font data-mx-color="#ff8800">hex</font>',
    );
  });

  test('a comma after a bare colour code is text; controls are dropped', () => {
    expect(mircToMatrix('\x03,5 x\x07y').body).toBe(',5 xy');
  });
});

describe('Matrix HTML -> mIRC', () => {
  test('inline formatting, pills to nicks, links, scripts and reply fallbacks dropped', () => {
    const html =
      '<mx-reply><blockquote>old</blockquote></mx-reply>hi <strong>bold <em>both</em></strong> ' +
      '<a href="https://matrix.to/#/%40irc_net_bob%3Ahs">Bob (IRC)</a>: see <a href="https://x.org/a">this</a> ' +
      '<a href="https://x.org/b">https://x.org/b</a><script>alert(1)</script>';
    const out = htmlToMirc(html, { mentionNick: (id) => (id === '@irc_net_bob:hs' ? 'bob' : null) });
    expect(out).toBe('hi \x02bold \x1dboth\x1d\x02 bob: see this (https://x.org/a) https://x.org/b');
  });

  test('blocks, lists, quotes and code blocks become lines', () => {
    const out = htmlToMirc(
      '<p>one</p><p>two <font data-mx-color="#ff0000">red</font> after</p><ul><li>a</li><li>b<ol><li>x</li></ol></li></ul>' +
        '<blockquote><p>quoted</p>more</blockquote><pre><code>x = 1\n  y\n</code></pre>',
    );
    expect(out.split('\n')).toEqual(['one', 'two \x0304red\x03 after', '• a', '• b', '  1. x', '> quoted', '> more', 'x = 1', '  y']);
  });

  test('formatting spanning a line break is re-opened on the new line; entities decoded', () => {
    expect(htmlToMirc('<b>multi<br>line</b> &amp; &lt;t&gt;')).toBe('\x02multi\n\x02line\x02 & <t>');
  });

  test('a message with a long run of spaces inside a line converts in one pass (64 KiB, as a Matrix user can send)', async () => {
    // `/ +$/` on such a line took seconds (quadratic backtracking), stalling every bridge in the process:
    // 30 such messages outlast the suite's timeout. Now all of them take well under a second.
    const spaces = ' '.repeat(65_000);
    for (let round = 0; round < 30; round++) {
      expect(htmlToMirc(`<pre>a${spaces}b</pre>`)).toBe(`a${spaces}b`);
      expect(htmlToMirc(`<pre>a${spaces}</pre>`)).toBe('a');
      await new Promise((resolve) => setImmediate(resolve));
    }
  });

  test('nearest colour', () => {
    expect(nearestMircColor('#fe0101')).toBe('04');
    expect(nearestMircColor('nonsense')).toBeNull();
  });
});
