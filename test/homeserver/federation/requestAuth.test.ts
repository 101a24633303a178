// X-Matrix request signing and checking: the header's syntax both ways, and every way a request is refused.
import { describe, expect, it } from '@jest/globals';
import { authenticateRequest, authorizationHeader } from '../../../homeserver/federation/auth/RequestAuth.js';
import { formatXMatrixHeader, parseXMatrixHeader } from '../../../homeserver/federation/auth/XMatrixHeader.js';
import { MatrixError } from '../../../homeserver/MatrixError.js';
import { Ed25519SigningKey } from '../../../homeserver/federation/signing/Ed25519.js';
import { decodeBase64 } from '../../../homeserver/federation/signing/UnpaddedBase64.js';

// The spec's test-vector key ("Cryptographic Test Vectors"), as server "origin.hs.example.com".
const key = { keyId: 'ed25519:1', key: Ed25519SigningKey.fromSeed(decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1')!) };
const lookup = async (server: string, keyId: string): Promise<Uint8Array | null> =>
  server === 'origin.hs.example.com' && keyId === 'ed25519:1' ? key.key.publicKey : null;

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (err) {
    if (err instanceof MatrixError) return `${err.status} ${err.errcode}: ${err.message}`;
    throw err;
  }
}

describe('the X-Matrix header', () => {
  it('is written as the spec asks senders to', () => {
    expect(formatXMatrixHeader({ origin: 'a.test:8448', destination: 'b.test', key: 'ed25519:1', sig: 'ABC/+' })).toBe(
      'X-Matrix origin="a.test:8448",destination="b.test",key="ed25519:1",sig="ABC/+"',
    );
  });

  it('is read in every form RFC 9110 allows', () => {
    expect(parseXMatrixHeader('X-Matrix origin=a.test:8448,key="ed25519:1",sig="s"')).toEqual({ origin: 'a.test:8448', key: 'ed25519:1', sig: 's' });
    expect(parseXMatrixHeader('x-matrix   ORIGIN="a\\"b" , Destination = "b.test",\tkey=ed25519:1 ,sig="s",extra=1')).toEqual({
      origin: 'a"b', destination: 'b.test', key: 'ed25519:1', sig: 's',
    });
  });

  it.each(['Bearer abc', 'X-Matrix origin="a"', 'X-Matrix origin="a,key="k",sig="s"', 'X-Matrix origin', 'X-Matrix origin="a" key="k" sig="s"'])(
    'refuses %s',
    (h) => expect(() => parseXMatrixHeader(h)).toThrow(),
  );
});

describe('request authentication', () => {
  const req = { method: 'PUT', uri: '/_matrix/federation/v1/send/1?x=%40y', content: { pdus: [], edus: [] } };
  const header = authorizationHeader(req, 'origin.hs.example.com', 'destination.hs.example.com', key);

  it('accepts what was signed for us, with or without the destination parameter', async () => {
    expect(await authenticateRequest(req, header, 'destination.hs.example.com', lookup)).toBe('origin.hs.example.com');
    const older = header.replace(/destination="[^"]*",/, '');
    expect(await authenticateRequest(req, older, 'destination.hs.example.com', lookup)).toBe('origin.hs.example.com');
    const get = { method: 'GET', uri: '/_matrix/federation/v1/version' };
    expect(await authenticateRequest(get, authorizationHeader(get, 'origin.hs.example.com', 'd', key), 'd', lookup)).toBe('origin.hs.example.com');
  });

  it('refuses with 401 M_UNAUTHORIZED and says why', async () => {
    const ours = 'destination.hs.example.com';
    expect(await refusal(authenticateRequest(req, undefined, ours, lookup))).toMatch(/^401 M_UNAUTHORIZED: Missing Authorization header/);
    expect(await refusal(authenticateRequest(req, 'Bearer x', ours, lookup))).toMatch(/^401 M_UNAUTHORIZED: .*X-Matrix scheme/);
    expect(await refusal(authenticateRequest(req, header, 'other.example.com', lookup))).toMatch(/^401 M_UNAUTHORIZED: The request is for destination/);
    expect(await refusal(authenticateRequest({ ...req, uri: '/_matrix/federation/v1/send/2' }, header, ours, lookup))).toMatch(/does not verify/);
    expect(await refusal(authenticateRequest({ ...req, content: { pdus: [1] } }, header, ours, lookup))).toMatch(/does not verify/);
    expect(await refusal(authenticateRequest({ ...req, method: 'POST' }, header, ours, lookup))).toMatch(/does not verify/);
    expect(await refusal(authenticateRequest(req, header, ours, async () => null))).toMatch(/No valid key ed25519:1 of origin.hs.example.com/);
    const forged = header.replace('origin="origin.hs.example.com"', 'origin="evil.example.com"');
    expect(await refusal(authenticateRequest(req, forged, ours, lookup))).toMatch(/^401 M_UNAUTHORIZED/);
    const badName = header.replace('origin="origin.hs.example.com"', 'origin="a b/c"');
    expect(await refusal(authenticateRequest(req, badName, ours, lookup))).toMatch(/is not a server name/);
  });
});
