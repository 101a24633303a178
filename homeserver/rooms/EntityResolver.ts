// Finds users and aliases that may not exist yet: when an appservice's namespace covers them, it is asked
// (GET /users/{id}, GET /rooms/{alias}) to create them, and the lookup is repeated.
import type { AppserviceGateway } from '../contracts.js';
import type { AccountStore } from '../accounts/AccountStore.js';
import type { RoomDirectory } from './RoomDirectory.js';
import { parseId } from '../ids/MatrixIds.js';

export class EntityResolver {
  constructor(
    private readonly serverName: string,
    private readonly accounts: AccountStore,
    private readonly directory: RoomDirectory,
    private readonly gateway: () => AppserviceGateway,
  ) {}

  isLocal(id: string, sigil: string): boolean {
    return parseId(id, sigil)?.server === this.serverName;
  }

  /**
   * True when the local user exists, possibly after its appservice created it on request. An
   * appservice's sender exists from the moment its registration is loaded (as in Synapse), whether or
   * not it has acted yet: a room a ghost makes may invite it at once.
   */
  async userExists(userId: string): Promise<boolean> {
    if (this.accounts.exists(userId)) return true;
    if (!this.isLocal(userId, '@')) return false;
    const gw = this.gateway();
    const appservice = gw.appserviceForUser(userId);
    if (!appservice) return false;
    if (appservice.sender) {
      this.accounts.createUser(userId, null, appservice.id);
      return true;
    }
    await gw.queryUser(userId);
    return this.accounts.exists(userId);
  }

  /** The room an alias points at, possibly after its appservice created it on request. */
  async resolveAlias(alias: string): Promise<string | null> {
    const found = this.directory.resolve(alias);
    if (found) return found.room_id;
    if (!this.isLocal(alias, '#')) return null;
    await this.gateway().queryAlias(alias);
    return this.directory.resolve(alias)?.room_id ?? null;
  }
}
