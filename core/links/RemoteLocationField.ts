import type { RemoteLocation } from '../plugin-api/index.js';

/**
 * A remote location as one Redis hash field: `["network","location"]`, with the receiver third for a
 * per-user place (`["sip","+14155550100","@alice:hs"]`), so one number's conversations with two users are
 * two locations. Room links and message pairings both key by it.
 */
export function locationField(remote: RemoteLocation, ...more: string[]): string {
  return JSON.stringify(remote.receiver === undefined ? [remote.network, remote.location, ...more] : [remote.network, remote.location, ...more, remote.receiver]);
}

/** The location of a field written by locationField (without extra parts), or null for anything else. */
export function parseLocationField(field: string): RemoteLocation | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(field);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length < 2 || parsed.length > 3 || !parsed.every((p) => typeof p === 'string')) return null;
  const [network, location, receiver] = parsed as string[];
  return receiver === undefined ? { network: network!, location: location! } : { network: network!, location: location!, receiver };
}

/** The location fields of a value, without anything else it carries (a link's data, a message id). */
export function locationOf(remote: RemoteLocation): RemoteLocation {
  return remote.receiver === undefined ? { network: remote.network, location: remote.location } : { network: remote.network, location: remote.location, receiver: remote.receiver };
}

/** Sorts by network, then location, then receiver (shared places first). */
export function compareLocations(a: RemoteLocation, b: RemoteLocation): number {
  return a.network.localeCompare(b.network) || a.location.localeCompare(b.location) || (a.receiver ?? '').localeCompare(b.receiver ?? '');
}
