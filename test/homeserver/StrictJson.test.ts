// The strict body parser on its own: what it refuses, with which errcode, and what it leaves alone.
import { describe, expect, it } from '@jest/globals';
import { MatrixError } from '../../homeserver/MatrixError.js';
import { parseStrictJson } from '../../homeserver/http/StrictJson.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function errcodeOf(input: string | Uint8Array): string | null {
  try {
    parseStrictJson(typeof input === 'string' ? bytes(input) : input);
    return null;
  } catch (err) {
    if (err instanceof MatrixError) return `${err.status} ${err.errcode}`;
    throw err;
  }
}

describe('parseStrictJson', () => {
  it('accepts ordinary JSON unchanged, numbers and escapes inside strings included', () => {
    const text = '{"n":-9007199254740991,"f":0.25,"s":"9007199254740993 1e400 \\\\ud800 \\" \\ud83d\\ude00","k":[true,null,{"1e999":0}]}';
    expect(parseStrictJson(bytes(text))).toEqual(JSON.parse(text));
    expect(parseStrictJson(bytes('\ufeff{"bom":1}'))).toEqual({ bom: 1 });
  });

  it('calls broken text M_NOT_JSON, even when it also holds a bad number', () => {
    expect(errcodeOf('{"a":')).toBe('400 M_NOT_JSON');
    expect(errcodeOf('{"a":1e400')).toBe('400 M_NOT_JSON');
    expect(errcodeOf('NaN')).toBe('400 M_NOT_JSON');
    expect(errcodeOf(new Uint8Array([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d]))).toBe('400 M_NOT_JSON');
    expect(errcodeOf('"\\ud800"')).toBe('400 M_NOT_JSON');
    expect(errcodeOf('"\\uDBFF\\u0041"')).toBe('400 M_NOT_JSON');
  });

  it('refuses integers beyond ±(2^53−1) before they are rounded, and non-finite numbers', () => {
    expect(errcodeOf('[9007199254740992]')).toBe('400 M_BAD_JSON');
    expect(errcodeOf('[-9007199254740992]')).toBe('400 M_BAD_JSON');
    expect(errcodeOf('[10000000000000000]')).toBe('400 M_BAD_JSON');
    expect(errcodeOf('[1e309]')).toBe('400 M_BAD_JSON');
    expect(errcodeOf('[9007199254740991, -9007199254740991, 1e308, 0.1]')).toBeNull();
  });

  it('refuses nesting past the limit without building it', () => {
    expect(errcodeOf('['.repeat(101) + ']'.repeat(101))).toBe('400 M_BAD_JSON');
    expect(errcodeOf('['.repeat(100) + ']'.repeat(100))).toBeNull();
    expect(errcodeOf('{"a":'.repeat(1_000_000))).toBe('400 M_BAD_JSON');
    expect(errcodeOf('["[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]')).toBeNull();
  });
});
