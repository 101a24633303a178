// The third-party protocols clients look phone bridges up by: `sip` (a number or SIP address),
// `m.protocol.pstn` and Element's `im.vector.protocol.pstn` (its dial pad looks a typed number up there
// and calls the ghost it gets), and Element's `im.vector.protocol.sip_native`/`sip_virtual` pair. The
// bridge has no separate "virtual" users: a ghost is its own native and virtual user, so Element's
// virtual-room logic changes nothing.
import type { ThirdPartyProtocol, ThirdPartyUser } from 'patchbay-matrix/plugin';
import type { NumberPlan } from './numbers/NumberPlan.js';
import { partyFromInput, type RemoteParty } from './numbers/RemoteParty.js';

export const PSTN_PROTOCOLS = ['m.protocol.pstn', 'im.vector.protocol.pstn'];
export const SIP_NATIVE = 'im.vector.protocol.sip_native';
export const SIP_VIRTUAL = 'im.vector.protocol.sip_virtual';
export const EXTRA_PROTOCOLS = [...PSTN_PROTOCOLS, SIP_NATIVE, SIP_VIRTUAL];

export interface PhoneDirectory {
  plan: NumberPlan;
  /** The ghost of a party, made if it does not exist yet (so a client can invite it at once). */
  ghostOf(party: RemoteParty): Promise<string>;
  /** The remote id of one of the bridge's ghosts, or null. */
  remoteIdOf(userId: string): string | null;
}

export function phoneProtocol(protocol: string, region: string): ThirdPartyProtocol {
  if (PSTN_PROTOCOLS.includes(protocol)) {
    return {
      user_fields: ['m.id.phone'],
      location_fields: [],
      icon: '',
      field_types: { 'm.id.phone': { regexp: '^[0-9+*#() .\\-/]+$', placeholder: '+1 415 555 0100' } },
      instances: [{ desc: `Phone numbers (default country ${region})`, network_id: 'pstn', fields: {} }],
    };
  }
  if (protocol === SIP_NATIVE || protocol === SIP_VIRTUAL) {
    const field = protocol === SIP_NATIVE ? 'virtual_mxid' : 'native_mxid';
    return { user_fields: [field], location_fields: [], icon: '', field_types: { [field]: { regexp: '^@.+:.+$', placeholder: '@user:server' } }, instances: [] };
  }
  return {
    user_fields: ['id'],
    location_fields: [],
    icon: '',
    field_types: { id: { regexp: '.+', placeholder: '+14155550100 or alice@pbx.example' } },
    instances: [{ desc: 'SIP and phone numbers', network_id: 'sip', fields: {} }],
  };
}

export async function lookupPhoneUser(directory: PhoneDirectory, fields: Record<string, string>, protocol: string): Promise<ThirdPartyUser[]> {
  if (protocol === SIP_NATIVE || protocol === SIP_VIRTUAL) {
    const userId = protocol === SIP_NATIVE ? fields.virtual_mxid : fields.native_mxid;
    if (userId === undefined || directory.remoteIdOf(userId) === null) return [];
    const kind: Record<string, string> = protocol === SIP_NATIVE ? { is_native: 'true', native_mxid: userId } : { is_virtual: 'true', virtual_mxid: userId };
    return [{ userid: userId, protocol, fields: { ...kind, lookup_success: 'true' } }];
  }
  const field = PSTN_PROTOCOLS.includes(protocol) ? 'm.id.phone' : 'id';
  const input = fields[field];
  if (input === undefined) return [];
  const party = partyFromInput(directory.plan, input);
  if (!party || (field === 'm.id.phone' && party.number === null)) return [];
  return [{ userid: await directory.ghostOf(party), protocol, fields: { [field]: party.id } }];
}
