// Parsing SIP costs less. The faster SIP parser (SipGrammarSpeedup): sip.js's own parser with its table decoded once. It must
// read everything exactly as sip.js's parser does, take over sip.js's Grammar.parse, and leave sip.js's
// parser in place when the file it rebuilds from is not what it expects. A message the guard parsed is
// not parsed again by sip.js (ParsedHandoff).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { Core, Grammar, NameAddrHeader, URI } from 'sip.js';
import { parse as originalParse } from 'sip.js/lib/grammar/pegjs/dist/grammar.js';
import { deliverParsed } from '../sip/ParsedHandoff.js';
import { rebuildSipParser, speedUpSipGrammar } from '../sip/SipGrammarSpeedup.js';

const CORPUS: Array<[string, string]> = [
  ['SIP/2.0 180 Ringing', 'Request_Response'],
  ['BYE sip:+14155550101-0x5564@127.0.0.1:50570 SIP/2.0', 'Request_Response'],
  ['sip:alice@example.org;transport=ws?subject=hi', 'SIP_URI'],
  ['sips:[2001:db8::9]:5061', 'SIP_URI'],
  ['tel:+14155550100', 'absoluteURI'],
  ['"Dave \\"D\\" Smith" <sip:+14155550101@sip.test>;tag=9fxced76sl', 'From'],
  ['<sip:+14155550101@sip.test;user=phone>', 'To'],
  ['SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK2;rport', 'Via'],
  ['<sip:127.0.0.1:5060;lr;r2=on>', 'Record_Route'],
  ['*', 'Contact'],
  ['a84b4c76e66710@pc33.example.org', 'Call_ID'],
  ['314159 INVITE', 'CSeq'],
  ['application/sdp', 'Content_Type'],
  ['1420', 'Content_Length'],
  ['70', 'Max_Forwards'],
  ['1800;refresher=uac', 'Session_Expires'],
  ['<sip:carol@example.org?Replaces=abc%40x%3Bto-tag%3D1%3Bfrom-tag%3D2>', 'Refer_To'],
  ['abc@x;to-tag=1;from-tag=2', 'Replaces'],
  ['Digest realm="sip.test", nonce="5f2a", algorithm=MD5, qop="auth"', 'WWW_Authenticate'],
  ['presence;id=7', 'Event'],
  ['active;expires=600', 'Subscription_State'],
  ['timer, 100rel', 'Supported'],
  ['"Op" <sip:op@example.org>', 'Referred_By'],
  ['<sip:x@y', 'Name_Addr_Header'],
  ['', 'SIP_URI'],
];

const INVITE = [
  'INVITE sip:+14155550123@sip.test SIP/2.0',
  'Via: SIP/2.0/WS 127.0.0.1:5066;branch=z9hG4bK1;received=127.0.0.1',
  'Record-Route: <sip:127.0.0.1:5060;lr>',
  'Max-Forwards: 69',
  'From: "Dave" <sip:+14155550101@sip.test>;tag=f1',
  'To: <sip:+14155550123@sip.test>',
  'Contact: <sip:dave@127.0.0.1:5070>;expires=60',
  'Call-ID: c1@host',
  'CSeq: 7 INVITE',
  'Content-Length: 0',
  '',
  '',
].join('\r\n');

const viaOriginal = (input: string, startRule: string): unknown => {
  const options: { startRule: string; data?: unknown } = { startRule };
  try {
    originalParse(input, options);
  } catch {
    options.data = -1;
  }
  return options.data;
};

const printed = (value: unknown): string =>
  value instanceof URI || value instanceof NameAddrHeader ? `${Object.getPrototypeOf(value).constructor.name}:${value.toString()}` : JSON.stringify(value);

const grammarSource = (): string => {
  const main = createRequire(import.meta.url).resolve('sip.js');
  return readFileSync(join(dirname(main), 'grammar', 'pegjs', 'dist', 'grammar.js'), 'utf8');
};

describe('the faster SIP parser', () => {
  it('takes over sip.js\'s Grammar.parse and reads every rule as sip.js\'s own parser does', () => {
    const before = Grammar.parse;
    expect(speedUpSipGrammar()).toEqual({ installed: true });
    expect(Grammar.parse).not.toBe(before);
    for (const [input, rule] of CORPUS) expect([rule, input, printed(Grammar.parse(input, rule))]).toEqual([rule, input, printed(viaOriginal(input, rule))]);
    // Installing twice changes nothing.
    const installed = Grammar.parse;
    expect(speedUpSipGrammar()).toEqual({ installed: true });
    expect(Grammar.parse).toBe(installed);
  });

  it('parses whole messages for sip.js (its Parser goes through Grammar.parse)', () => {
    speedUpSipGrammar();
    const message = Core.Parser.parseMessage(INVITE, { debug: () => undefined, warn: () => undefined, error: () => undefined, log: () => undefined } as unknown as Core.Logger);
    expect(message).toBeInstanceOf(Core.IncomingRequestMessage);
    const request = message as Core.IncomingRequestMessage;
    expect(request.ruri?.toString()).toBe('sip:+14155550123@sip.test');
    expect(request.from.displayName).toBe('Dave');
    expect(request.fromTag).toBe('f1');
    expect(request.cseq).toBe(7);
    expect(request.via.host).toBe('127.0.0.1');
  });

  it('rebuilds nothing from a grammar file of another shape, so sip.js keeps its own parser', () => {
    const source = grammarSource();
    expect(typeof rebuildSipParser(source)).toBe('function');
    expect(rebuildSipParser('export const parse = () => 1;\n')).toMatch(/expected shape/);
    expect(rebuildSipParser(source.replace('import { URI } from "../../uri.js";\n', ''))).toMatch(/lacks "import \{ URI \}/);
    expect(rebuildSipParser(source.replace('    const peg$bytecode = [\n', '    const peg$bytecode = [\n        peg$decode("'))).toMatch(/does not load/);
  });
});

describe('the guard\'s parse handed to sip.js', () => {
  const logger = { debug: () => undefined, warn: () => undefined, error: () => undefined, log: () => undefined } as unknown as Core.Logger;

  it('gives sip.js the guard\'s message for that string, once, while the handler runs', () => {
    const guardParse = Core.Parser.parseMessage(INVITE, logger) as Core.IncomingRequestMessage;
    const seen: unknown[] = [];
    deliverParsed(INVITE, guardParse, (raw) => {
      seen.push(Core.Parser.parseMessage(raw, logger));
      seen.push(Core.Parser.parseMessage(raw, logger));
    });
    expect(seen[0]).toBe(guardParse);
    expect(seen[1]).not.toBe(guardParse);
    expect((seen[1] as Core.IncomingRequestMessage).callId).toBe('c1@host');
    // After the handler, and for other strings, sip.js parses as before.
    expect(Core.Parser.parseMessage(INVITE, logger)).not.toBe(guardParse);
    deliverParsed(INVITE, guardParse, () => seen.push(Core.Parser.parseMessage(INVITE.replace('c1@host', 'c2@host'), logger)));
    expect((seen[2] as Core.IncomingRequestMessage).callId).toBe('c2@host');
  });
});
