// A SIP party's room with one Matrix user: one per (line, party, user), carrying that number's calls and
// texts both ways. Made by the framework (ctx.portals) as a DM the party's ghost opens; a DM the user
// opens with a ghost (Element's dial pad does) becomes the portal too. Which rooms are encrypted is noted
// here, since the bridge can neither read nor place calls there.
import type { BridgeContext, Intent } from 'patchbay-matrix/plugin';
import type { NumberPlan } from '../numbers/NumberPlan.js';
import { partyFromId, type RemoteParty } from '../numbers/RemoteParty.js';

export interface PortalInfo {
  roomId: string;
  lineId: string;
  party: RemoteParty;
  receiver: string;
}

const ENCRYPTED = 'encrypted/';

export class SipPortals {
  constructor(
    private readonly ctx: BridgeContext<unknown>,
    private readonly plan: NumberPlan,
  ) {}

  /** The party's ghost, its profile in step with what SIP last said (its From display name). */
  ghost(party: RemoteParty): Promise<Intent> {
    return this.ctx.ghosts.intent(party.id, { displayName: party.displayName });
  }

  /** The portal room of `party` and `userId` on a line: found, or made as a DM from the party's ghost. */
  async ensure(lineId: string, party: RemoteParty, userId: string): Promise<string> {
    const portal = await this.ctx.portals.ensure({ network: lineId, location: party.id, receiver: userId }, () => ({
      creator: { remoteId: party.id, profile: { displayName: party.displayName } },
      name: party.displayName,
      topic: `Calls and texts with ${party.number ? party.number.international : party.id} (SIP line ${lineId})`,
      direct: true,
      data: { line: lineId },
    }));
    return portal.roomId;
  }

  /** Makes a room a user opened with a party's ghost that party's portal for them. */
  async adopt(roomId: string, lineId: string, party: RemoteParty, userId: string): Promise<void> {
    await this.ctx.links.link(roomId, { network: lineId, location: party.id, receiver: userId }, { line: lineId });
  }

  /** The portal a room is, or null. */
  async byRoom(roomId: string): Promise<PortalInfo | null> {
    for (const remote of await this.ctx.links.remotesFor(roomId)) {
      if (remote.receiver === undefined) continue;
      const party = partyFromId(this.plan, remote.location);
      if (party) return { roomId, lineId: remote.network, party, receiver: remote.receiver };
    }
    return null;
  }

  async isEncrypted(roomId: string): Promise<boolean> {
    return (await this.ctx.store.get(ENCRYPTED + roomId)) !== null;
  }

  async markEncrypted(roomId: string): Promise<boolean> {
    return this.ctx.store.setIfAbsent(ENCRYPTED + roomId, '1');
  }
}
