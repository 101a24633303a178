import type { GhostDirectory, GhostProfile, Intent } from '../plugin-api/index.js';
import { escapeForeignId, unescapeForeignId } from './ForeignIdEscaping.js';

/** The spec's limit on a whole user id, in bytes. */
const MAX_USER_ID_BYTES = 255;

/** Thrown when a remote id cannot become a ghost (empty, or the user id would exceed 255 bytes). */
export class GhostIdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GhostIdError';
  }
}

/** Gives the intent of a ghost user id, registered and joined on first use (MatrixIntent in practice). */
export type GhostIntentFactory = (userId: string, profile?: GhostProfile) => Promise<Intent>;

/** One bridge's ghosts: `@<ghostPrefix><escaped remote id>:<server>`, and back. */
export class NamespacedGhostDirectory implements GhostDirectory {
  private readonly head: string;
  private readonly tail: string;

  constructor(
    readonly ghostPrefix: string,
    readonly serverName: string,
    private readonly intentFor: GhostIntentFactory,
  ) {
    this.head = `@${ghostPrefix}`;
    this.tail = `:${serverName}`;
  }

  userIdFor(remoteId: string): string {
    if (remoteId.length === 0) throw new GhostIdError('A ghost needs a non-empty remote id');
    const userId = `${this.head}${escapeForeignId(remoteId)}${this.tail}`;
    const bytes = Buffer.byteLength(userId, 'utf8');
    if (bytes > MAX_USER_ID_BYTES) {
      throw new GhostIdError(
        `The ghost of remote id ${JSON.stringify(remoteId.slice(0, 40))}... would be ${bytes} bytes long; ` +
          `Matrix user ids are at most ${MAX_USER_ID_BYTES}`,
      );
    }
    return userId;
  }

  remoteIdOf(userId: string): string | null {
    if (!userId.startsWith(this.head) || !userId.endsWith(this.tail)) return null;
    const escaped = userId.slice(this.head.length, userId.length - this.tail.length);
    if (escaped.length === 0) return null;
    return unescapeForeignId(escaped);
  }

  /** True for any user id in this bridge's ghost namespace, canonical or not. */
  ownsUserId(userId: string): boolean {
    return userId.startsWith(this.head) && userId.endsWith(this.tail) && userId.length > this.head.length + this.tail.length;
  }

  async intent(remoteId: string, profile?: GhostProfile): Promise<Intent> {
    return this.intentFor(this.userIdFor(remoteId), profile);
  }
}
