// Redis key names of one bridge's durable state. Every key carries the bridge name as a hash tag
// (`{name}`), so a bridge's keys share one Redis Cluster slot and multi-key scripts stay legal there.

/** Root of everything the plugin runtime keeps in Redis. */
export const RUNTIME_KEY_ROOT = 'patchbay';

export class BridgeKeyspace {
  readonly root: string;

  constructor(readonly bridge: string) {
    if (!/^[A-Za-z0-9_.-]+$/.test(bridge)) {
      throw new Error(`Bridge name ${JSON.stringify(bridge)} may contain only letters, digits, '_', '.', '-'`);
    }
    this.root = `${RUNTIME_KEY_ROOT}:br:{${bridge}}`;
  }

  key(...parts: string[]): string {
    return [this.root, ...parts].join(':');
  }
}
