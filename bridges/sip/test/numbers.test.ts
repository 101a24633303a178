// Numbers as people and SIP headers write them, made E.164 for one ghost per number; SIP addresses as
// ghosts too; what may not reach a header (CR, LF, quotes) never does.
import { describe, expect, it } from '@jest/globals';
import { NumberPlan } from '../numbers/NumberPlan.js';
import { cleanDisplayName, dialUri, partyFromId, partyFromInput, partyFromSip } from '../numbers/RemoteParty.js';

describe('NumberPlan', () => {
  const us = new NumberPlan('US');
  const de = new NumberPlan('DE');

  it.each([
    ['US', '+1 415 555 0100', '+14155550100'],
    ['US', '(415) 555-0100', '+14155550100'],
    ['US', '415.555.0100', '+14155550100'],
    ['US', 'tel:+1-415-555-0100', '+14155550100'],
    ['US', '0049 30 123456', '+4930123456'],
    ['US', '011 44 20 7946 0958', '+442079460958'],
    ['US', '14155550100', '+14155550100'],
    ['DE', '030 123456', '+4930123456'],
    ['DE', '0049 30 123456', '+4930123456'],
    ['DE', '+49 (0)30 123456', '+4930123456'],
    ['DE', '0900 1234567', '+499001234567'],
    ['US', 'alice', null],
    ['US', '+1 415 555', null],
    ['US', '4155550100\r\nVia: x', null],
    ['US', '', null],
  ])('%s: %j is %j', (region, text, e164) => {
    const plan = region === 'US' ? us : de;
    expect(plan.parse(text)?.e164 ?? null).toBe(e164);
  });

  it('knows premium and national numbers, and writes numbers the way a line dials them', () => {
    expect(us.parse('1-900-555-0199')?.type).toBe('PREMIUM_RATE');
    expect(de.parse('0900 1234567')?.type).toBe('PREMIUM_RATE');
    const local = us.parse('+14155550100')!;
    const abroad = us.parse('+4930123456')!;
    expect(us.isNational(local)).toBe(true);
    expect(us.isNational(abroad)).toBe(false);
    expect(us.format(local, 'e164')).toBe('+14155550100');
    expect(us.format(local, 'e164_no_plus')).toBe('14155550100');
    expect(us.format(local, 'national')).toBe('4155550100');
    expect(us.format(abroad, 'national')).toBe('+4930123456');
    expect(de.format(de.parse('030 123456')!, 'national')).toBe('030123456');
  });

  it('refuses a region it does not know, naming the setting', () => {
    expect(() => new NumberPlan('XX')).toThrow(/bridges\.sip\.default_region: XX/);
  });
});

describe('RemoteParty', () => {
  const plan = new NumberPlan('US');

  it('makes a number\'s ghost id E.164 and keeps the SIP display name', () => {
    expect(partyFromSip(plan, '4155550100', 'carrier.example', 'Bob Smith')).toMatchObject({ id: '+14155550100', displayName: 'Bob Smith' });
    expect(partyFromSip(plan, '+14155550100', 'carrier.example', undefined)).toMatchObject({ id: '+14155550100', displayName: '+1 415 555 0100' });
  });

  it('gives other SIP addresses a ghost of user@host (lower case), and anonymous callers one together', () => {
    expect(partyFromSip(plan, 'Alice', 'PBX.example', 'Alice W.')).toEqual({ id: 'alice@pbx.example', number: null, displayName: 'Alice W.' });
    expect(partyFromSip(plan, 'anonymous', 'anonymous.invalid', 'Anonymous')?.id).toBe('anonymous@anonymous.invalid');
  });

  it('refuses users and hosts that could break a header, and strips control characters from names', () => {
    expect(partyFromSip(plan, 'a"b', 'pbx.example')).toBeNull();
    expect(partyFromSip(plan, 'bob', 'pbx.example>evil')).toBeNull();
    expect(partyFromSip(plan, 'bob', 'pbx.example\r\nX: y')).toBeNull();
    expect(cleanDisplayName('Mallory\r\nContact: <sip:evil>')).toBe('Mallory Contact: <sip:evil>');
    expect(cleanDisplayName('x'.repeat(100))).toHaveLength(64);
  });

  it('reads what users type and maps ghost ids back', () => {
    expect(partyFromInput(plan, '(415) 555-0100')?.id).toBe('+14155550100');
    expect(partyFromInput(plan, 'sip:alice@pbx.example')?.id).toBe('alice@pbx.example');
    expect(partyFromInput(plan, 'hello there')).toBeNull();
    expect(partyFromId(plan, '+14155550100')?.number?.e164).toBe('+14155550100');
    expect(partyFromId(plan, '+1415555')).toBeNull();
    expect(partyFromId(plan, 'alice@pbx.example')?.id).toBe('alice@pbx.example');
    expect(partyFromId(plan, 'bridge')).toBeNull();
  });

  it('dials a number at the line\'s domain in the line\'s format, an address as it is', () => {
    expect(dialUri(plan, partyFromInput(plan, '4155550100')!, 'sip.carrier.example', 'e164_no_plus')).toBe('sip:14155550100@sip.carrier.example');
    expect(dialUri(plan, partyFromInput(plan, 'alice@pbx.example')!, 'sip.carrier.example', 'e164')).toBe('sip:alice@pbx.example');
  });
});
