import { describe, expect, test } from '@jest/globals';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ircConfigSchema, normalizeNetworks } from '../IrcConfig.js';
import { parsePortalAlias, portalAlias, portalAllowed } from '../PortalAlias.js';
import { contentToIrc, editCorrection, stripReplyFallback } from '../MatrixToIrc.js';

const validate = new Ajv2020({ strict: false, allErrors: true, allowUnionTypes: true }).compile(ircConfigSchema);

describe('config schema', () => {
  test('a full network config is valid and normalises with real-network manners by default', () => {
    const config = {
      enabled: true,
      networks: {
        libera: {
          name: 'Libera.Chat',
          host: 'irc.libera.chat',
          tls: { ca: '-----BEGIN CERTIFICATE-----', reject_unauthorized: true },
          sasl: { account: 'patchbay', password: 'secret' },
          bot: { nick: 'PatchbayBot' },
          puppets: { nick_template: '$DISPLAY[m]', idle_timeout_minutes: 1440 },
          mappings: [{ channel: '#patchbay', room: '!abc:example.org' }],
          portals: { enabled: true, deny: ['#ops*'] },
        },
      },
    };
    expect(validate(config)).toBe(true);
    const [n] = normalizeNetworks(config);
    expect(n).toMatchObject({ id: 'libera', port: 6697, linesPerSecond: 0.5, burst: 5, connectConcurrency: 2, bot: { sasl: { account: 'patchbay' } } });
    expect(n?.tls).toMatchObject({ ca: '-----BEGIN CERTIFICATE-----', rejectUnauthorized: true });
    expect(normalizeNetworks({ networks: { plain: { host: 'h' } } })[0]?.port).toBe(6667);
    expect(normalizeNetworks({})).toEqual([]);
  });

  test('bad input is rejected by the schema', () => {
    expect(validate({ networks: { 'bad_id': { host: 'h' } } })).toBe(false);
    expect(validate({ networks: { ok: {} } })).toBe(false);
    expect(validate({ networks: { ok: { host: 'h', bot: { nick: 'bad nick' } } } })).toBe(false);
    expect(validate({ networks: { ok: { host: 'h', mappings: [{ channel: 'nochan', room: '!r:hs' }] } } })).toBe(false);
    expect(validate({ networks: { ok: { host: 'h', limits: { lines_per_second: 0 } } } })).toBe(false);
    expect(validate({ password: 'misplaced' })).toBe(false);
  });
});

describe('portal aliases', () => {
  test('parse and format; channel with or without #; network ends at the first _', () => {
    expect(parsePortalAlias('#irc_libera_#matrix:hs', 'irc_', 'hs')).toEqual({ network: 'libera', channel: '#matrix' });
    expect(parsePortalAlias('#irc_libera_matrix_dev:hs', 'irc_', 'hs')).toEqual({ network: 'libera', channel: '#matrix_dev' });
    expect(parsePortalAlias('#irc_libera_#a,b:hs', 'irc_', 'hs')).toBeNull();
    expect(parsePortalAlias('#irc_libera_#matrix:other', 'irc_', 'hs')).toBeNull();
    expect(portalAlias({ network: 'libera', channel: '#matrix' }, 'irc_', 'hs')).toBe('#irc_libera_#matrix:hs');
    expect(portalAllowed('#ops-team', ['*'], ['#ops*'])).toBe(false);
    expect(portalAllowed('#chat', ['#c*'], [])).toBe(true);
  });
});

describe('Matrix content -> IRC text', () => {
  test('reply fallbacks are stripped; unknown msgtypes give null', () => {
    expect(stripReplyFallback('> <@a:hs> old\n> more\n\nnew text')).toBe('new text');
    expect(contentToIrc({ msgtype: 'm.text', body: '> <@a:hs> old\n\nreply' })?.text).toBe('reply');
    expect(contentToIrc({ msgtype: 'm.location', body: 'x' })).toBeNull();
  });

  test('edits become short corrections', () => {
    expect(editCorrection('I like cats', 'I like dogs')).toBe('* dogs');
    expect(editCorrection('hello world', 'completely different text here')).toBe('* completely different text here');
    expect(editCorrection('same', 'same')).toBeNull();
    expect(editCorrection(null, 'new')).toBe('* new');
  });
});
