// Third-party lookups (spec: Client-Server "Third-party networks"): the homeserver asks every
// appservice that declares the protocol and merges the answers. Protocol descriptions merge into one
// per protocol (the first appservice's fields, every appservice's instances, each tagged with
// `instance_id: "<appservice id>|<network_id>"` as Synapse builds it, which publicRooms' filter takes
// back apart); user and location lookups are concatenated. An appservice that fails or times out is
// left out (and logged) rather than failing the whole lookup.
import type { Logger } from 'pino';
import type { Appservice } from './Appservice.js';
import type { AppserviceHttpClient } from './AppserviceHttpClient.js';

export type ThirdPartyKind = 'user' | 'location';
type JsonObject = Record<string, unknown>;

export interface ThirdPartyFanoutDeps {
  appservices: () => readonly Appservice[];
  http: AppserviceHttpClient;
  timeoutMs: number;
  logger: Logger;
}

export class ThirdPartyFanout {
  /** Network ids each appservice declared in its last protocol answers (for hasNetwork). */
  private readonly networks = new Map<string, Set<string>>();

  constructor(private readonly deps: ThirdPartyFanoutDeps) {}

  /** Every declared protocol that at least one appservice described. */
  async protocols(): Promise<Record<string, JsonObject>> {
    const names = new Set(this.withUrl().flatMap((as) => as.protocols));
    const out: Record<string, JsonObject> = {};
    await Promise.all(
      [...names].map(async (name) => {
        const merged = await this.protocol(name);
        if (merged !== null) out[name] = merged;
      }),
    );
    return out;
  }

  /** The merged description, or null when no appservice declares the protocol or none described it. */
  async protocol(name: string): Promise<JsonObject | null> {
    const answers = await Promise.all(
      this.declaring(name).map(async (as) => ({ as, value: await this.get(as, `/protocol/${encodeURIComponent(name)}`, '') })),
    );
    let merged: JsonObject | null = null;
    const instances: JsonObject[] = [];
    for (const { as, value } of answers) {
      if (!isObject(value)) continue;
      merged ??= { ...value };
      const declared = Array.isArray(value['instances']) ? value['instances'].filter(isObject) : [];
      const networks = this.networks.get(as.id) ?? new Set<string>();
      for (const instance of declared) {
        const networkId = instance['network_id'];
        if (typeof networkId === 'string') {
          networks.add(networkId);
          instances.push({ ...instance, instance_id: `${as.id}|${networkId}` });
        } else {
          instances.push(instance);
        }
      }
      this.networks.set(as.id, networks);
    }
    if (merged !== null) merged['instances'] = instances;
    return merged;
  }

  /** Users or locations for the fields in `rawQuery`; null when no appservice declares the protocol. */
  async lookup(kind: ThirdPartyKind, protocol: string, rawQuery: string): Promise<unknown[] | null> {
    const owners = this.declaring(protocol);
    if (owners.length === 0) return null;
    return this.concat(owners, `/${kind}/${encodeURIComponent(protocol)}`, rawQuery);
  }

  /** Reverse lookup (`?userid=` / `?alias=`), asked of every appservice that declares any protocol. */
  async reverse(kind: ThirdPartyKind, rawQuery: string): Promise<unknown[]> {
    return this.concat(this.withUrl().filter((as) => as.protocols.length > 0), `/${kind}`, rawQuery);
  }

  /**
   * True for `<appservice id>|<network_id>` of a registered appservice whose network list is either
   * unknown yet (its protocols were never fetched) or contains the network: publicRooms must not
   * reject a network only because nobody listed the protocols since the start.
   */
  hasNetwork(instanceId: string, appserviceExists: (id: string) => boolean): boolean {
    const bar = instanceId.indexOf('|');
    if (bar <= 0) return false;
    const appserviceId = instanceId.slice(0, bar);
    if (!appserviceExists(appserviceId)) return false;
    const known = this.networks.get(appserviceId);
    return known === undefined || known.has(instanceId.slice(bar + 1));
  }

  /** Learns every appservice's networks (at start and after a reload), so hasNetwork can be exact. */
  async refreshNetworks(): Promise<void> {
    await this.protocols();
  }

  private async concat(appservices: Appservice[], path: string, rawQuery: string): Promise<unknown[]> {
    const answers = await Promise.all(appservices.map((as) => this.get(as, path, rawQuery)));
    return answers.flatMap((value) => (Array.isArray(value) ? (value as unknown[]) : []));
  }

  private declaring(protocol: string): Appservice[] {
    return this.withUrl().filter((as) => as.protocols.includes(protocol));
  }

  private withUrl(): Appservice[] {
    return this.deps.appservices().filter((as) => as.url !== null);
  }

  /** GET `/thirdparty{path}` from one appservice: its JSON on 200, else undefined (logged unless 404). */
  private async get(appservice: Appservice, path: string, rawQuery: string): Promise<unknown> {
    const result = await this.deps.http.request(appservice, 'thirdparty', {
      method: 'GET',
      v1Path: `/thirdparty${path}`,
      legacyPath: `/_matrix/app/unstable/thirdparty${path}`,
      query: rawQuery,
      timeoutMs: this.deps.timeoutMs,
    });
    if (result.kind === 'response' && result.status === 200) {
      if (result.json === undefined) {
        this.deps.logger.warn({ appservice_id: appservice.id, path }, 'third-party lookup: appservice answered no JSON');
      }
      return result.json;
    }
    if (result.kind !== 'response' || result.status !== 404) {
      const why = result.kind === 'response' ? { status: result.status } : { error: result.kind };
      this.deps.logger.warn({ appservice_id: appservice.id, path, ...why }, 'third-party lookup failed');
    }
    return undefined;
  }
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
