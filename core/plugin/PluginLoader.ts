import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../../config/index.js';
import type { BridgeDescriptor, BridgePlugin, BuiltinBridgeRegistry, PluginFactory } from '../plugin-api/index.js';
import { detectCapabilities, type PluginCapabilities } from './PluginCapabilities.js';
import { PluginConfigValidator } from './PluginConfigValidator.js';
import { checkHttpPrefixes, httpPrefixOverlaps } from './HttpPrefixes.js';

/** A plugin ready to start: its instance, validated config section and detected capabilities. */
export interface LoadedPlugin {
  /** The config key (`bridges.<name>`); names its Redis keyspace and its logs. */
  readonly name: string;
  readonly plugin: BridgePlugin;
  readonly descriptor: BridgeDescriptor;
  /** The plugin's section without `enabled`/`module`, its schema's defaults filled in. */
  readonly config: Record<string, unknown>;
  /** `builtin:<name>` or the module specifier it came from. */
  readonly source: string;
  readonly capabilities: PluginCapabilities;
}

export interface PluginLoaderOptions {
  builtins: BuiltinBridgeRegistry;
  /** Relative `module:` paths and package names resolve from here (default: the working directory). */
  baseDir?: string;
}

const PROTOCOL = /^[A-Za-z0-9._-]+$/;
const GHOST_PREFIX = /^[a-z0-9._=\-/+]+$/;
const ALIAS_PREFIX = /^[^:\s\0]+$/;

/**
 * Loads the enabled bridges of the config: built-ins by name through the registry `bin/` provides,
 * third-party plugins by `module:` (a package name or a path; default export or `createPlugin` is the
 * PluginFactory). Every problem of every bridge is collected and thrown at once as a ConfigError.
 */
export class PluginLoader {
  private readonly validator = new PluginConfigValidator();
  private readonly baseDir: string;

  constructor(private readonly options: PluginLoaderOptions) {
    this.baseDir = resolve(options.baseDir ?? process.cwd());
  }

  async load(bridges: Readonly<Record<string, unknown>>): Promise<LoadedPlugin[]> {
    const problems: string[] = [];
    const loaded: LoadedPlugin[] = [];
    for (const [name, raw] of Object.entries(bridges)) {
      const key = `bridges.${name}`;
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        problems.push(`${key}: ${JSON.stringify(raw)} is not a bridge section. Fix: write a map, e.g. { enabled: true }`);
        continue;
      }
      const section = raw as Record<string, unknown>;
      if (section.enabled === false) continue;
      if (section.enabled !== true && section.enabled !== undefined) {
        problems.push(`${key}.enabled: ${JSON.stringify(section.enabled)} is not true or false. Fix: set ${key}.enabled to true or false`);
        continue;
      }
      try {
        const { factory, source } = await this.factoryFor(name, section.module);
        const plugin = this.instantiate(name, factory, source);
        const descriptorProblems = checkDescriptor(key, plugin.descriptor);
        if (descriptorProblems.length) {
          problems.push(...descriptorProblems);
          continue;
        }
        const { config, problems: configProblems } = this.validator.validate(name, section, plugin.descriptor.configSchema);
        if (configProblems.length) {
          problems.push(...configProblems);
          continue;
        }
        loaded.push({ name, plugin, descriptor: plugin.descriptor, config, source, capabilities: detectCapabilities(plugin) });
      } catch (err) {
        problems.push(err instanceof PluginLoadProblem ? err.message : `${key}: could not load (${describe(err)})`);
      }
    }
    problems.push(...checkOverlaps(loaded));
    if (problems.length) throw new ConfigError(problems, 'bridges');
    return loaded;
  }

  private async factoryFor(name: string, module: unknown): Promise<{ factory: PluginFactory; source: string }> {
    const key = `bridges.${name}`;
    if (module === undefined || module === null) {
      const builtin = this.options.builtins[name];
      if (!builtin) {
        const known = Object.keys(this.options.builtins).join(', ') || 'none';
        throw new PluginLoadProblem(
          `${key}: "${name}" is not a built-in bridge (built-ins: ${known}). Fix: use one of those names, or set ${key}.module to the plugin's package name or path`,
        );
      }
      return { factory: (await builtin()) as unknown as PluginFactory, source: `builtin:${name}` };
    }
    if (typeof module !== 'string' || module.length === 0) {
      throw new PluginLoadProblem(`${key}.module: ${JSON.stringify(module)} is not a package name or path. Fix: set it to e.g. "patchbay-bridge-foo" or "./plugins/foo/index.js"`);
    }
    let exports: Record<string, unknown>;
    try {
      exports = (await import(this.resolveModule(module))) as Record<string, unknown>;
    } catch (err) {
      throw new PluginLoadProblem(`${key}.module: "${module}" could not be imported (${describe(err)}). Fix: install the package or correct the path`);
    }
    const factory = typeof exports.default === 'function' ? exports.default : exports.createPlugin;
    if (typeof factory !== 'function') {
      throw new PluginLoadProblem(
        `${key}.module: "${module}" exports neither a default PluginFactory nor createPlugin. Fix: export default () => ({ descriptor, start, stop, onMatrixEvent })`,
      );
    }
    return { factory: factory as PluginFactory, source: module };
  }

  /** A file URL for paths; a resolved file URL for package names (found from baseDir, then from Patchbay). */
  private resolveModule(specifier: string): string {
    if (specifier.startsWith('.') || isAbsolute(specifier)) return pathToFileURL(resolve(this.baseDir, specifier)).href;
    if (specifier.startsWith('file:')) return specifier;
    try {
      return pathToFileURL(createRequire(join(this.baseDir, 'noop.js')).resolve(specifier)).href;
    } catch {
      // ESM-only packages (exports with an "import" condition only) are not found by require.resolve.
      const entry = esmPackageEntry(this.baseDir, specifier);
      return entry ? pathToFileURL(entry).href : specifier;
    }
  }

  private instantiate(name: string, factory: PluginFactory, source: string): BridgePlugin {
    const key = `bridges.${name}`;
    let plugin: unknown;
    try {
      plugin = factory();
    } catch (err) {
      throw new PluginLoadProblem(`${key}: the plugin factory of ${source} threw (${describe(err)})`);
    }
    const p = plugin as Partial<Record<keyof BridgePlugin, unknown>> | null;
    const missing = (['start', 'stop', 'onMatrixEvent'] as const).filter((m) => typeof p?.[m] !== 'function');
    if (!p || typeof p !== 'object' || missing.length || typeof p.descriptor !== 'object' || p.descriptor === null) {
      throw new PluginLoadProblem(
        `${key}: ${source} did not produce a bridge plugin (missing: ${[...(p?.descriptor ? [] : ['descriptor']), ...missing].join(', ')}). Fix: the factory must return { descriptor, start, stop, onMatrixEvent }`,
      );
    }
    return plugin as BridgePlugin;
  }
}

class PluginLoadProblem extends Error {}

/**
 * The ESM entry of a package installed in `node_modules` at or above `fromDir`: its exports' "import" or
 * "default" target for ".", else `main`, else index.js. Null when there is no such package.
 */
function esmPackageEntry(fromDir: string, name: string): string | null {
  if (!/^(@[^/]+\/)?[^/@][^/]*$/.test(name)) return null;
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const root = join(dir, 'node_modules', name);
    const manifest = join(root, 'package.json');
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: unknown; main?: unknown };
      const target = exportTarget(pkg.exports) ?? (typeof pkg.main === 'string' ? pkg.main : 'index.js');
      return resolve(root, target);
    }
    if (dirname(dir) === dir) return null;
  }
}

function exportTarget(exports: unknown): string | null {
  if (typeof exports === 'string') return exports;
  if (typeof exports !== 'object' || exports === null) return null;
  const e = exports as Record<string, unknown>;
  const main = '.' in e ? e['.'] : e;
  if (typeof main === 'string') return main;
  if (typeof main !== 'object' || main === null) return null;
  for (const condition of ['import', 'node', 'default']) {
    const t = exportTarget((main as Record<string, unknown>)[condition]);
    if (t) return t;
  }
  return null;
}

function checkDescriptor(key: string, d: BridgeDescriptor): string[] {
  const problems: string[] = [];
  if (typeof d.protocol !== 'string' || !PROTOCOL.test(d.protocol)) {
    problems.push(`${key}: the plugin's protocol ${JSON.stringify(d.protocol)} must be letters, digits, ".", "_" or "-". Fix: correct the plugin's descriptor`);
  }
  if (d.thirdPartyProtocols !== undefined && (!Array.isArray(d.thirdPartyProtocols) || !d.thirdPartyProtocols.every((p) => typeof p === 'string' && PROTOCOL.test(p)))) {
    problems.push(`${key}: the plugin's thirdPartyProtocols ${JSON.stringify(d.thirdPartyProtocols)} must be a list of ids made of letters, digits, ".", "_" or "-". Fix: correct the plugin's descriptor`);
  }
  if (typeof d.ghostPrefix !== 'string' || !GHOST_PREFIX.test(d.ghostPrefix)) {
    problems.push(`${key}: the plugin's ghostPrefix ${JSON.stringify(d.ghostPrefix)} must be lowercase user-id characters (a-z 0-9 . _ = - / +). Fix: correct the plugin's descriptor`);
  }
  if (typeof d.aliasPrefix !== 'string' || !ALIAS_PREFIX.test(d.aliasPrefix)) {
    problems.push(`${key}: the plugin's aliasPrefix ${JSON.stringify(d.aliasPrefix)} must be non-empty, without ":" or spaces. Fix: correct the plugin's descriptor`);
  }
  if (d.configSchema !== undefined && (typeof d.configSchema !== 'object' || d.configSchema === null)) {
    problems.push(`${key}: the plugin's configSchema is not a JSON Schema object. Fix: correct the plugin's descriptor`);
  }
  problems.push(...checkHttpPrefixes(key, d.httpPrefixes));
  return problems;
}

/** Two bridges may not share a protocol or claim each other's ghosts or aliases. */
function checkOverlaps(plugins: LoadedPlugin[]): string[] {
  const problems: string[] = [];
  for (const [i, a] of plugins.entries()) {
    for (const b of plugins.slice(i + 1)) {
      const pair = `bridges.${a.name} and bridges.${b.name}`;
      const theirs = new Set(protocolsOf(b.descriptor));
      for (const shared of protocolsOf(a.descriptor).filter((p) => theirs.has(p))) problems.push(`${pair}: both use protocol "${shared}". Fix: enable only one of them`);
      if (a.descriptor.ghostPrefix.startsWith(b.descriptor.ghostPrefix) || b.descriptor.ghostPrefix.startsWith(a.descriptor.ghostPrefix)) {
        problems.push(`${pair}: ghost prefixes "${a.descriptor.ghostPrefix}" and "${b.descriptor.ghostPrefix}" overlap. Fix: enable only one of them`);
      }
      if (a.descriptor.aliasPrefix.startsWith(b.descriptor.aliasPrefix) || b.descriptor.aliasPrefix.startsWith(a.descriptor.aliasPrefix)) {
        problems.push(`${pair}: alias prefixes "${a.descriptor.aliasPrefix}" and "${b.descriptor.aliasPrefix}" overlap. Fix: enable only one of them`);
      }
      problems.push(...httpPrefixOverlaps(pair, a.descriptor.httpPrefixes ?? [], b.descriptor.httpPrefixes ?? []));
    }
  }
  return problems;
}

/** The protocol ids a bridge answers for: its own and its further third-party ones. */
function protocolsOf(d: BridgeDescriptor): string[] {
  return [d.protocol, ...(d.thirdPartyProtocols ?? [])];
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
