// The appservices the homeserver knows, loaded from the registration files it was given (Synapse's
// app_service_config_files). A listed directory stands for every *.yaml / *.yml file in it, so a new
// bridge can be added by dropping its registration there and reloading. reload() re-reads everything
// and swaps the whole set at once; if any file is unreadable or invalid, or two registrations share an
// `id` or an `as_token`, the reload is rejected and the running set stays as it was.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Appservice } from './Appservice.js';

export type AppserviceLoader = (file: string) => Promise<Appservice>;

export class AppserviceRegistryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AppserviceRegistryError';
  }
}

export interface RegistryChange {
  added: string[];
  removed: string[];
  kept: string[];
}

export class AppserviceRegistry {
  private list: readonly Appservice[] = [];
  private byIdMap = new Map<string, Appservice>();
  private byTokenMap = new Map<string, Appservice>();

  constructor(
    private readonly files: readonly string[],
    private readonly load: AppserviceLoader,
  ) {}

  all(): readonly Appservice[] {
    return this.list;
  }

  byId(id: string): Appservice | null {
    return this.byIdMap.get(id) ?? null;
  }

  byToken(asToken: string): Appservice | null {
    return this.byTokenMap.get(asToken) ?? null;
  }

  /** Loads every file; on any error throws AppserviceRegistryError naming the file and keeps the old set. */
  async reload(): Promise<RegistryChange> {
    const loaded: Appservice[] = [];
    for (const file of await expandDirectories(this.files)) {
      try {
        loaded.push(await this.load(file));
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        // registration/ errors already name the file (with line and column where it can).
        throw new AppserviceRegistryError(why.includes(file) ? `appservice registration ${why}` : `appservice registration ${file}: ${why}`);
      }
    }
    const byId = new Map<string, Appservice>();
    const byToken = new Map<string, Appservice>();
    for (const as of loaded) {
      if (as.id.includes('|')) {
        // Third-party instance ids are "<appservice id>|<network_id>": a bar in the id would make them ambiguous.
        throw new AppserviceRegistryError(`appservice registration ${as.source}: id "${as.id}" must not contain "|"`);
      }
      const sameId = byId.get(as.id);
      if (sameId) {
        throw new AppserviceRegistryError(`appservice registrations ${sameId.source} and ${as.source} share the id "${as.id}"`);
      }
      const sameToken = byToken.get(as.asToken);
      if (sameToken) {
        throw new AppserviceRegistryError(`appservice registrations ${sameToken.source} and ${as.source} share the same as_token`);
      }
      byId.set(as.id, as);
      byToken.set(as.asToken, as);
    }
    const previous = this.byIdMap;
    this.list = loaded;
    this.byIdMap = byId;
    this.byTokenMap = byToken;
    return {
      added: loaded.filter((as) => !previous.has(as.id)).map((as) => as.id),
      removed: [...previous.keys()].filter((id) => !byId.has(id)),
      kept: loaded.filter((as) => previous.has(as.id)).map((as) => as.id),
    };
  }
}

/** Files as listed, with each directory replaced by its *.yaml / *.yml files in name order. */
async function expandDirectories(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => null);
    if (info?.isDirectory()) {
      const names = (await readdir(path)).filter((n) => /\.ya?ml$/i.test(n) && !n.startsWith('.')).sort();
      out.push(...names.map((n) => join(path, n)));
    } else {
      // A missing file is reported by the loader, with its path and a fix.
      out.push(path);
    }
  }
  return out;
}
