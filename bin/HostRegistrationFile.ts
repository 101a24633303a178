// The host's registration file (host.registration): made when missing, and kept in step with the loaded
// bridges and the host's URL when present, without ever changing its tokens (the homeserver would then
// refuse the host, and the host the homeserver).
import { existsSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { ConfigError } from '../config/index.js';
import { registrationInputsFor, type LoadedPlugin } from '../core/plugin/index.js';
import {
  generateRegistration,
  readRegistrationFile,
  RegistrationError,
  RegistrationNamespaces,
  writeRegistrationFile,
  type AppserviceRegistration,
} from '../registration/index.js';

export const DEFAULT_APPSERVICE_ID = 'patchbay';
export const DEFAULT_SENDER_LOCALPART = 'patchbay';
const MSC2409_EPHEMERAL = 'de.sorunome.msc2409.push_ephemeral';

export type RegistrationOutcome = 'created' | 'updated' | 'unchanged';

export class HostRegistrationFile {
  private constructor(
    readonly path: string,
    private readonly existing: AppserviceRegistration | null,
    private current: AppserviceRegistration,
    private readonly plugins: readonly LoadedPlugin[],
    private readonly serverName: string,
  ) {}

  /**
   * Reads the file, or generates a registration (fresh tokens, not yet written) when there is none, so
   * the tokens are known before the host's URL is. A file that exists but is invalid is a
   * RegistrationError: it is never replaced behind the user's back.
   */
  static async prepare(path: string, plugins: readonly LoadedPlugin[], serverName: string): Promise<HostRegistrationFile> {
    if (existsSync(path)) {
      const existing = await readRegistrationFile(path);
      return new HostRegistrationFile(path, existing, existing, plugins, serverName);
    }
    const fresh = generateRegistration(inputs(plugins, DEFAULT_APPSERVICE_ID, DEFAULT_SENDER_LOCALPART, null, serverName));
    return new HostRegistrationFile(path, null, fresh, plugins, serverName);
  }

  /** The registration a process that only reads it (a worker) uses; says how to get one when missing. */
  static async read(path: string): Promise<AppserviceRegistration> {
    if (!existsSync(path)) {
      throw new ConfigError([
        `host.registration: ${path} does not exist. Fix: start \`patchbay host\` (or \`patchbay start\`) once, which writes it, ` +
          'and give every process the same file (the same host.registration path, or a copy)',
      ]);
    }
    return readRegistrationFile(path);
  }

  /** The registration as it is now: its tokens are final from prepare() on. */
  get registration(): AppserviceRegistration {
    return this.current;
  }

  /**
   * Writes the file if it is new, or if its url, namespaces, protocols or ephemeral setting no longer
   * match the bridges and `url`; tokens, id, sender and any other keys stay. Logs what changed.
   */
  async settle(url: string, logger: Logger): Promise<RegistrationOutcome> {
    const base = this.existing ?? this.current;
    const desired = generateRegistration(inputs(this.plugins, base.id, base.sender_localpart, url, this.serverName));
    if (this.existing === null) {
      const created: AppserviceRegistration = { ...desired, as_token: base.as_token, hs_token: base.hs_token };
      await writeRegistrationFile(this.path, created);
      this.current = created;
      logger.info({ path: this.path, url, bridges: protocols(this.plugins) }, 'registration: created (give this file to your homeserver)');
      return 'created';
    }
    const old = this.existing;
    const changes: string[] = [];
    const next: AppserviceRegistration = { ...old };
    if (old.url !== url) {
      changes.push(`url ${old.url ?? 'null'} -> ${url}`);
      next.url = url;
    }
    const users = desired.namespaces.users ?? [];
    const aliases = desired.namespaces.aliases ?? [];
    if (!isDeepStrictEqual(old.namespaces.users ?? [], users) || !isDeepStrictEqual(old.namespaces.aliases ?? [], aliases)) {
      changes.push(`namespaces now cover the bridges ${protocols(this.plugins).join(', ') || '(none)'}`);
      next.namespaces = { ...old.namespaces, users, aliases };
    }
    if (!isDeepStrictEqual(old.protocols ?? [], desired.protocols ?? [])) {
      changes.push(`protocols [${(old.protocols ?? []).join(', ')}] -> [${(desired.protocols ?? []).join(', ')}]`);
      next.protocols = desired.protocols ?? [];
    }
    const ephemeral = desired.receive_ephemeral === true;
    if ((old.receive_ephemeral === true) !== ephemeral) {
      changes.push(`receive_ephemeral ${String(old.receive_ephemeral === true)} -> ${String(ephemeral)}`);
      next.receive_ephemeral = ephemeral;
      if (ephemeral) next[MSC2409_EPHEMERAL] = true;
      else delete next[MSC2409_EPHEMERAL];
    }
    if (changes.length === 0) return 'unchanged';
    await writeRegistrationFile(this.path, next);
    this.current = next;
    logger.warn(
      { path: this.path, changes },
      `registration: updated ${this.path} (${changes.join('; ')}); tokens kept. A homeserver other than the embedded one must load the file again`,
    );
    return 'updated';
  }
}

/** Protocols of the plugins whose ghost or alias prefixes `reg` does not cover exclusively. */
export function uncoveredBridges(reg: AppserviceRegistration, plugins: readonly LoadedPlugin[], serverName: string): string[] {
  const ns = new RegistrationNamespaces(reg, serverName);
  return plugins
    .filter((p) => {
      // A sample ghost and alias of the bridge; the namespaces must hold them exclusively.
      const user = ns.matchUser(`@${p.descriptor.ghostPrefix}probe:${serverName}`);
      const alias = ns.matchAlias(`#${p.descriptor.aliasPrefix}probe:${serverName}`);
      return user?.exclusive !== true || alias?.exclusive !== true;
    })
    .map((p) => p.name);
}

function inputs(plugins: readonly LoadedPlugin[], id: string, sender: string, url: string | null, serverName: string) {
  try {
    return registrationInputsFor(plugins, { id, url, serverName, senderLocalpart: sender });
  } catch (err) {
    if (err instanceof RegistrationError) throw err;
    throw new ConfigError([err instanceof Error ? err.message : String(err)], 'bridges');
  }
}

function protocols(plugins: readonly LoadedPlugin[]): string[] {
  return plugins.map((p) => p.descriptor.protocol);
}
