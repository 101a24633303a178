// Media served safely, on both the legacy and the authenticated (v1.11) paths: only the spec's inline-safe
// types inline, everything else as an attachment, always sandboxed and never sniffed; thumbnails only of
// pictures; a reserved upload waited for (504 M_NOT_YET_UPLOADED); responses checked against the spec.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { registerUser, SpecValidator, startTestHomeserver, type TestHomeserver, type TestUser } from '../harness/index.js';

const spec = SpecValidator.load();
const AUTHED = 'client-server/authed-content-repo.yaml';
// The smallest valid PNG: 1x1, one transparent pixel.
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000' + '1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082', 'hex');

describe('media', () => {
  let hs: TestHomeserver;
  let alice: TestUser;

  const upload = async (data: string | Buffer, contentType: string, filename?: string): Promise<string> => {
    const res = await alice.http.request<{ content_uri: string }>('POST', '/_matrix/media/v3/upload', {
      rawBody: typeof data === 'string' ? data : new Uint8Array(data),
      headers: { 'Content-Type': contentType },
      ...(filename !== undefined && { query: { filename } }),
    });
    expect(res.status).toBe(200);
    return res.body.content_uri.slice('mxc://'.length);
  };
  const get = (path: string, token: string | null = alice.accessToken): Promise<Response> =>
    fetch(`${hs.url}${path}`, token === null ? {} : { headers: { Authorization: `Bearer ${token}` } });

  const conforms = async (path: string, status: number, body: unknown): Promise<void> => {
    if (!spec) return;
    expect(await spec.validateResponse(AUTHED, path, 'get', status, body)).toEqual([]);
  };

  beforeAll(async () => {
    hs = await startTestHomeserver();
    alice = await registerUser(hs.url, 'alice');
  });

  afterAll(async () => {
    await hs?.stop();
  });

  it('serves an uploaded HTML page as an attachment, sandboxed and not sniffed, on every path', async () => {
    const media = await upload('<html><script>alert(document.cookie)</script></html>', 'text/html', 'page.html');
    for (const path of [`/_matrix/media/v3/download/${media}`, `/_matrix/media/r0/download/${media}`, `/_matrix/client/v1/media/download/${media}`]) {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html');
      expect(res.headers.get('content-disposition')).toBe('attachment; filename="page.html"');
      expect(res.headers.get('content-security-policy')).toMatch(/^sandbox;/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
    const svg = await upload('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', 'image/svg+xml');
    expect((await get(`/_matrix/client/v1/media/download/${svg}`)).headers.get('content-disposition')).toBe('attachment');
  });

  it('serves the spec\'s inline-safe types inline, parameters and case aside', async () => {
    const text = await upload('hello', 'Text/Plain; charset=utf-8', 'hello.txt');
    expect((await get(`/_matrix/client/v1/media/download/${text}`)).headers.get('content-disposition')).toBe('inline; filename="hello.txt"');
    const png = await upload(PNG, 'image/png');
    const res = await get(`/_matrix/client/v1/media/download/${png}`);
    expect(res.headers.get('content-disposition')).toBe('inline');
    expect(Buffer.from(await res.arrayBuffer()).equals(PNG)).toBe(true);
  });

  it('names the file as uploaded or as asked, encoding names that are not plain ASCII', async () => {
    const pdf = await upload('%PDF-1.4', 'application/pdf', 'résumé "final".pdf');
    const res = await get(`/_matrix/client/v1/media/download/${pdf}`);
    expect(res.headers.get('content-disposition')).toBe("attachment; filename*=utf-8''r%C3%A9sum%C3%A9%20%22final%22.pdf");
    const renamed = await get(`/_matrix/client/v1/media/download/${pdf}/cv.pdf`);
    expect(renamed.headers.get('content-disposition')).toBe('attachment; filename="cv.pdf"');
  });

  it('gives thumbnails of pictures only (the picture itself), inline', async () => {
    const png = await upload(PNG, 'image/png', 'dot.png');
    const thumb = await get(`/_matrix/client/v1/media/thumbnail/${png}?width=32&height=32&method=scale`);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/png');
    expect(thumb.headers.get('content-disposition')).toBe('inline; filename="dot.png"');
    const html = await upload('<b>x</b>', 'text/html');
    const refused = await get(`/_matrix/client/v1/media/thumbnail/${html}?width=32&height=32`);
    expect(refused.status).toBe(400);
    await conforms('/media/thumbnail/{serverName}/{mediaId}', 400, await refused.json());
    const noSize = await get(`/_matrix/client/v1/media/thumbnail/${png}`);
    expect(noSize.status).toBe(400);
    expect(await noSize.json()).toMatchObject({ errcode: 'M_MISSING_PARAM' });
  });

  it('requires a token on the authenticated paths (header or query), and has no uploads there', async () => {
    const media = await upload('secret-ish', 'text/plain');
    const anonymous = await get(`/_matrix/client/v1/media/download/${media}`, null);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ errcode: 'M_MISSING_TOKEN' });
    expect((await get(`/_matrix/client/v1/media/thumbnail/${media}?width=1&height=1`, null)).status).toBe(401);
    expect((await get(`/_matrix/client/v1/media/config`, null)).status).toBe(401);
    expect((await get(`/_matrix/client/v1/media/download/${media}?access_token=${alice.accessToken}`, null)).status).toBe(200);
    const config = await get('/_matrix/client/v1/media/config');
    await conforms('/media/config', 200, await config.json());
    // Uploads stay at /_matrix/media/v3 (the spec has none under /_matrix/client/v1/media).
    const misplaced = await alice.http.post('/_matrix/client/v1/media/upload', {});
    expect(misplaced.status).toBe(404);
    expect(misplaced.body).toMatchObject({ errcode: 'M_UNRECOGNIZED' });
  });

  it('waits for a reserved upload up to timeout_ms, then answers 504 M_NOT_YET_UPLOADED', async () => {
    const created = await alice.http.ok<{ content_uri: string }>('POST', '/_matrix/media/v1/create', { body: {} });
    const media = created.content_uri.slice('mxc://'.length);
    const early = await get(`/_matrix/client/v1/media/download/${media}?timeout_ms=200`);
    expect(early.status).toBe(504);
    const body = await early.json();
    expect(body).toMatchObject({ errcode: 'M_NOT_YET_UPLOADED' });
    // The spec's 504 is a shared response ($ref): the standard error body.
    if (spec) expect(await spec.validateDefinition('client-server/definitions/errors/error.yaml', body)).toEqual([]);

    const waiting = get(`/_matrix/client/v1/media/download/${media}?timeout_ms=20000`);
    await alice.http.ok('PUT', `/_matrix/media/v3/upload/${media}`, { rawBody: 'arrived', headers: { 'Content-Type': 'text/plain' } });
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('arrived');
  });

  it('advertises v1.11, whose authenticated media it serves', async () => {
    const versions = await hs.http.ok<{ versions: string[] }>('GET', '/_matrix/client/versions');
    expect(versions.versions).toContain('v1.11');
  });
});
