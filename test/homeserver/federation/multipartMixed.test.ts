// The multipart/mixed bodies of federation media downloads: what this server writes, and reading what
// peers write (quoted boundaries, parts without headers, broken bodies).
import { describe, expect, it } from '@jest/globals';
import { multipartBoundary, multipartMixedBody, parseMultipart } from '../../../homeserver/federation/transport/MultipartMixed.js';

describe('multipart/mixed', () => {
  it('reads back what it writes, bytes exact', () => {
    const media = Buffer.from([0, 13, 10, 45, 45, 255, 13, 10]);
    const { contentType, body } = multipartMixedBody({}, { headers: { 'Content-Type': 'image/png' }, body: media });
    const boundary = multipartBoundary(contentType);
    expect(boundary).toMatch(/^[0-9a-f]{32}$/);
    const parts = parseMultipart(body, boundary!);
    expect(parts).toEqual([
      { headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') },
      { headers: { 'content-type': 'image/png' }, body: media },
    ]);
  });

  it("reads a peer's body with a quoted boundary, a preamble and a part without headers", () => {
    const contentType = 'multipart/mixed; boundary="b 1"';
    const body = Buffer.from('preamble\r\n--b 1\r\n\r\n{}\r\n--b 1\r\nLocation: https://cdn.example/x\r\n\r\n\r\n--b 1--\r\n');
    expect(multipartBoundary(contentType)).toBe('b 1');
    expect(parseMultipart(body, 'b 1')).toEqual([
      { headers: {}, body: Buffer.from('{}') },
      { headers: { location: 'https://cdn.example/x' }, body: Buffer.alloc(0) },
    ]);
  });

  it('refuses what is not multipart/mixed or not closed', () => {
    expect(multipartBoundary('application/json')).toBeNull();
    expect(multipartBoundary('multipart/mixed')).toBeNull();
    expect(parseMultipart(Buffer.from('--b\r\nContent-Type: a/b\r\n\r\nnever closed'), 'b')).toBeNull();
    expect(parseMultipart(Buffer.from('no boundary here'), 'b')).toBeNull();
  });
});
