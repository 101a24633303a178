// Reads one registration file through registration/ (which parses and validates it) into the
// Appservice this folder works with.
import { readRegistrationFile, RegistrationNamespaces } from '../../registration/index.js';
import type { Appservice } from './Appservice.js';

export async function loadAppservice(file: string, serverName: string): Promise<Appservice> {
  const registration = await readRegistrationFile(file);
  const namespaces = new RegistrationNamespaces(registration, serverName);
  const extra = registration as unknown as Record<string, unknown>;
  return {
    id: registration.id,
    url: registration.url === null || registration.url === undefined ? null : registration.url.replace(/\/+$/, ''),
    asToken: registration.as_token,
    hsToken: registration.hs_token,
    senderUserId: `@${registration.sender_localpart}:${serverName}`,
    protocols: registration.protocols ?? [],
    receivesEphemeral:
      registration.receive_ephemeral === true ||
      extra['push_ephemeral'] === true ||
      extra['de.sorunome.msc2409.push_ephemeral'] === true,
    encryption: extra['org.matrix.msc3202'] === true,
    rateLimited: registration.rate_limited !== false,
    namespaces,
    source: file,
  };
}
