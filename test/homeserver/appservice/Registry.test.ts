// Registration files: loading, hot reload without a restart, and reloads that must be refused whole
// (an invalid file, a duplicate id or as_token) while the running set keeps working.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../../testkit/waitFor.js';
import { makeService, registrationFor, ScriptedAppservice, SERVER, writeRegistration } from './fakes.js';

describe('appservice registry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-as-registry-'));
  const as = new ScriptedAppservice();
  const deliveredTo = (token: string): string[] =>
    as.transactions()
      .filter((t) => as.received.find((r) => r.path === t.path && r.body === t.raw)?.authorization === `Bearer ${token}`)
      .flatMap((t) => t.body.events.map((e) => e.event_id));

  beforeAll(async () => {
    await as.start();
  });
  afterAll(async () => {
    await as.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start with an invalid or missing registration, naming the file', async () => {
    const bad = writeRegistration(dir, 'id: broken\nurl: 5\n', 'broken.yaml');
    const first = makeService([bad]);
    await expect(first.service.start()).rejects.toThrow(/broken\.yaml/);
    await first.service.stop();
    const missing = makeService([join(dir, 'nope.yaml')]);
    await expect(missing.service.start()).rejects.toThrow(/nope\.yaml/);
    await missing.service.stop();
  });

  it('reload picks up a new file in a listed directory and a changed file; a bad reload keeps the old set', async () => {
    const regDir = join(dir, 'registrations');
    mkdirSync(regDir);
    writeRegistration(regDir, registrationFor('one', null));
    const { service, stream } = makeService([regDir]);
    await service.start();
    try {
      expect(service.authenticate('as-one', undefined, undefined)?.appserviceId).toBe('one');
      expect(service.authenticate('as-two', undefined, undefined)).toBeNull();

      // A new bridge's registration, and `one` gets a URL: both take effect on reload.
      writeRegistration(regDir, registrationFor('two', as.url));
      writeRegistration(regDir, registrationFor('one', as.url));
      await service.reload();
      expect(service.authenticate('as-two', undefined, undefined)?.userId).toBe(`@_two_bot:${SERVER}`);
      const [toTwo, toOne] = stream.append({ room_id: `!r:${SERVER}`, sender: `@_two_x:${SERVER}` }, { room_id: `!s:${SERVER}`, sender: `@_one_x:${SERVER}` });
      await waitFor(() => deliveredTo('hs-two').includes(toTwo!.event_id) && deliveredTo('hs-one').includes(toOne!.event_id), 10_000, 'delivery to both');

      // Each of these reloads is refused whole, and says why.
      const broken = writeRegistration(regDir, 'id: three\nurl: [\n', 'three.yaml');
      await expect(service.reload()).rejects.toThrow(/three\.yaml/);
      rmSync(broken);
      writeRegistration(regDir, { ...registrationFor('four', as.url), id: 'two' }, 'four.yaml');
      await expect(service.reload()).rejects.toThrow(/share the id "two"/);
      writeRegistration(regDir, { ...registrationFor('four', as.url), as_token: 'as-one' }, 'four.yaml');
      await expect(service.reload()).rejects.toThrow(/share the same as_token/);
      writeRegistration(regDir, registrationFor('fo|ur', as.url), 'four.yaml');
      await expect(service.reload()).rejects.toThrow(/four\.yaml.*fo\|ur/);

      // The old set still authenticates and delivers.
      expect(service.authenticate('as-two', undefined, undefined)?.appserviceId).toBe('two');
      expect(service.authenticate('as-fo|ur', undefined, undefined)).toBeNull();
      const [again] = stream.append({ room_id: `!r:${SERVER}`, sender: `@_two_x:${SERVER}` });
      await waitFor(() => deliveredTo('hs-two').includes(again!.event_id), 10_000, 'delivery after refused reloads');

      // Removing a file removes the appservice.
      rmSync(join(regDir, 'four.yaml'));
      rmSync(join(regDir, 'two.yaml'));
      await service.reload();
      expect(service.authenticate('as-two', undefined, undefined)).toBeNull();
      expect(service.authenticate('as-one', undefined, undefined)?.appserviceId).toBe('one');
    } finally {
      await service.stop();
    }
  });
});
