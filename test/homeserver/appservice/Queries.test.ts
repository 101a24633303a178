// User and alias queries to a real appservice: which appservice is asked, with what, and what the
// answers mean (200 yes, 404 no, a silent appservice: 408 after a second try, legacy paths).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MatrixError } from '../../../homeserver/MatrixError.js';
import { makeService, registrationFor, ScriptedAppservice, SERVER, writeRegistration, type ServiceUnderTest } from './fakes.js';

describe('appservice queries', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-as-queries-'));
  const modern = new ScriptedAppservice();
  const legacy = new ScriptedAppservice();
  const silent = new ScriptedAppservice();
  let sut: ServiceUnderTest;

  beforeAll(async () => {
    for (const s of [modern, legacy, silent]) await s.start();
    modern.respond = (r) =>
      r.path.endsWith(encodeURIComponent(`@_modern_yes:${SERVER}`)) || r.path.endsWith(encodeURIComponent(`#_modern_yes:${SERVER}`))
        ? { status: 200, body: {} }
        : { status: 404, body: { errcode: 'M_NOT_FOUND' } };
    legacy.respond = (r) => (r.path.startsWith('/_matrix/') ? { status: 404, body: '' } : { status: 200, body: {} });
    silent.respond = () => 'hang';
    sut = makeService(
      [
        writeRegistration(dir, registrationFor('modern', modern.url)),
        writeRegistration(dir, registrationFor('legacy', legacy.url)),
        writeRegistration(dir, registrationFor('silent', silent.url)),
      ],
      { options: { queryTimeoutMs: 200 } },
    );
    await sut.service.start();
  });

  afterAll(async () => {
    await sut.service.stop();
    for (const s of [modern, legacy, silent]) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('asks only the owning appservice, with its hs_token; 200 means yes, 404 no', async () => {
    expect(await sut.service.queryUser(`@_modern_yes:${SERVER}`)).toBe(true);
    expect(await sut.service.queryUser(`@_modern_no:${SERVER}`)).toBe(false);
    expect(await sut.service.queryAlias(`#_modern_yes:${SERVER}`)).toBe(true);
    expect(await sut.service.queryAlias(`#_modern_no:${SERVER}`)).toBe(false);
    expect(modern.received.map((r) => [r.method, r.path, r.authorization])).toEqual([
      ['GET', `/_matrix/app/v1/users/${encodeURIComponent(`@_modern_yes:${SERVER}`)}`, 'Bearer hs-modern'],
      ['GET', `/_matrix/app/v1/users/${encodeURIComponent(`@_modern_no:${SERVER}`)}`, 'Bearer hs-modern'],
      ['GET', `/_matrix/app/v1/rooms/${encodeURIComponent(`#_modern_yes:${SERVER}`)}`, 'Bearer hs-modern'],
      ['GET', `/_matrix/app/v1/rooms/${encodeURIComponent(`#_modern_no:${SERVER}`)}`, 'Bearer hs-modern'],
    ]);
    // Outside every namespace: nobody is asked.
    expect(await sut.service.queryUser(`@alice:${SERVER}`)).toBe(false);
    expect(legacy.received).toEqual([]);
  });

  it('uses the legacy path when v1 is unknown to the appservice', async () => {
    expect(await sut.service.queryUser(`@_legacy_x:${SERVER}`)).toBe(true);
    expect(legacy.received.map((r) => r.path)).toEqual([
      `/_matrix/app/v1/users/${encodeURIComponent(`@_legacy_x:${SERVER}`)}`,
      `/users/${encodeURIComponent(`@_legacy_x:${SERVER}`)}`,
    ]);
  });

  it('asks a silent appservice twice, then fails with 408 instead of a misleading "not found"', async () => {
    const err = await sut.service.queryAlias(`#_silent_x:${SERVER}`).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MatrixError);
    expect((err as MatrixError).status).toBe(408);
    expect(silent.received.filter((r) => r.path.startsWith('/_matrix/app/v1/rooms/'))).toHaveLength(2);
  });
});
