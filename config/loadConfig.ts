import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Ajv, type SchemaObject, type ValidateFunction } from 'ajv';
import yaml from 'js-yaml';
import { ConfigError } from './ConfigError.js';
import { describeSchemaErrors } from './describeSchemaErrors.js';
import { interpolateEnv } from './interpolateEnv.js';
import type { KeyPath } from './keyPath.js';
import { isConfigMap, mergeConfig } from './mergeConfig.js';
import { defaultsFile } from './packageRoot.js';
import type { PatchbayConfig } from './PatchbayConfig.js';
import { configSchema } from './schema.js';

export interface LoadConfigOptions {
  /** The user's file (`--config FILE`); when absent, PATCHBAY_CONFIG from `env`; else defaults only. */
  file?: string;
  /** Where `${VAR}` references and PATCHBAY_CONFIG are read from; process.env by default. */
  env?: NodeJS.ProcessEnv;
  /** What relative paths are resolved against; process.cwd() by default. */
  cwd?: string;
}

let validator: ValidateFunction | null = null;

/**
 * Reads config/defaults.yaml, merges the user's file over it, replaces `${VAR}` references and
 * validates the result once. Relative paths come back absolute. Throws ConfigError listing every
 * problem found.
 */
export function loadConfig(options: LoadConfigOptions = {}): PatchbayConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = options.file ?? (env.PATCHBAY_CONFIG || undefined);
  const source = file ? `defaults + ${file}` : 'defaults';

  const defaults = readYamlMap(defaultsFile(), 'the shipped defaults are broken; reinstall Patchbay');
  const user = file ? readYamlMap(resolve(cwd, file), 'correct the file given by --config or PATCHBAY_CONFIG') : {};
  const merged = mergeConfig(defaults, user);

  const interpolated = interpolateEnv(merged, env, convertEnvText);
  const configDir = file ? dirname(resolve(cwd, file)) : cwd;
  const problems = [...interpolated.problems];
  validator ??= new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true }).compile(configSchema);
  if (!validator(interpolated.value)) {
    problems.push(...describeSchemaErrors(validator.errors ?? [], interpolated.value, interpolated.failedKeys));
  }
  const config = interpolated.value as PatchbayConfig;
  if (problems.length === 0) problems.push(...crossCheck(config));
  if (problems.length > 0) {
    const bridges = isConfigMap(config.bridges) ? resolveBridgeModules(config.bridges, configDir) : null;
    throw new ConfigError(problems, source, bridges);
  }
  return resolvePaths(config, cwd, configDir);
}

function readYamlMap(path: string, fix: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(err);
    throw new ConfigError([`${path}: cannot read it (${why}). Fix: ${fix}`]);
  }
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: path });
  } catch (err) {
    if (err instanceof yaml.YAMLException) {
      const where = `${path}:${err.mark.line + 1}:${err.mark.column + 1}`;
      throw new ConfigError([`${where}: ${err.reason}. Fix: correct the YAML there`]);
    }
    throw err;
  }
  if (doc === null || doc === undefined) return {};
  if (!isConfigMap(doc)) {
    const kind = Array.isArray(doc) ? 'a list' : `a ${typeof doc}`;
    throw new ConfigError([`${path}: holds ${kind}, not a map of settings. Fix: write "key: value" lines, e.g. "homeserver:\\n  port: 8008"`]);
  }
  return doc;
}

/** Environment values are text: give `port: ${PORT}` the type its key wants. */
function convertEnvText(path: KeyPath, text: string): unknown {
  const types = schemaTypesAt(path);
  if (types.length === 0 || types.includes('string')) {
    return text === '' && types.includes('null') ? null : text;
  }
  if ((types.includes('integer') || types.includes('number')) && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (types.includes('boolean') && (text === 'true' || text === 'false')) return text === 'true';
  if (types.includes('null') && (text === '' || text === 'null')) return null;
  return text; // left as text, so validation reports it with its key
}

function schemaTypesAt(path: KeyPath): string[] {
  let schema: SchemaObject | undefined = configSchema;
  for (const part of path) {
    if (!schema) return [];
    if (typeof part === 'number') schema = schema.items as SchemaObject | undefined;
    else {
      const properties = (schema.properties ?? {}) as Record<string, SchemaObject>;
      const additional: unknown = schema.additionalProperties;
      schema = properties[part] ?? (isConfigMap(additional) ? (additional as SchemaObject) : undefined);
    }
  }
  const type: unknown = schema?.type;
  return typeof type === 'string' ? [type] : Array.isArray(type) ? type.map(String) : [];
}

/** Rules that span keys, checked once each key is valid on its own. */
function crossCheck(config: PatchbayConfig): string[] {
  const problems: string[] = [];
  const retries: Array<[string, { initial_ms: number; max_ms: number }]> = [
    ['homeserver.appservice_retry', config.homeserver.appservice_retry],
    ['homeserver.federation.sending.retry', config.homeserver.federation.sending.retry],
  ];
  for (const [key, retry] of retries) {
    if (retry.max_ms < retry.initial_ms) {
      problems.push(`${key}.max_ms: ${retry.max_ms} is less than initial_ms (${retry.initial_ms}). Fix: set max_ms to at least ${retry.initial_ms}`);
    }
  }
  const federationPort = config.homeserver.federation.listener.port;
  if (federationPort !== null && federationPort !== 0 && federationPort === config.homeserver.port) {
    problems.push(
      `homeserver.federation.listener.port: ${federationPort} is homeserver.port, where the Client-Server API listens. ` +
        'Fix: set it to a port of its own (e.g. 8448), or to null to serve federation on homeserver.port',
    );
  }
  config.homeserver.trusted_proxies.forEach((entry, i) => {
    if (!isProxyAddress(entry)) {
      problems.push(
        `homeserver.trusted_proxies[${i}]: ${JSON.stringify(entry)} is not an IP address or CIDR range. ` +
          'Fix: write an address such as 127.0.0.1 or ::1, a range such as 10.0.0.0/8, or loopback',
      );
    }
  });
  if (!config.homeserver.enabled && config.host.homeserver_url === null) {
    problems.push(
      'host.homeserver_url: null, but homeserver.enabled is false, so there is no homeserver to act through. ' +
        'Fix: set host.homeserver_url to your homeserver\'s Client-Server URL, e.g. https://matrix.example.org, ' +
        'or set homeserver.enabled to true',
    );
  }
  return problems;
}

/** An address or range Express's `trust proxy` accepts (the schema's pattern lets through 999.1.1.1). */
function isProxyAddress(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address = '', bits, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}

/**
 * data_dir and app_service_config_files against the working directory (as Synapse does); the files
 * under data_dir against data_dir; a bridge `module` that is a relative path against the folder of the
 * config file that names it (the working directory without one), so a plugin beside the config is found
 * wherever Patchbay is started. Absolute paths stay as they are.
 */
function resolvePaths(config: PatchbayConfig, cwd: string, configDir: string): PatchbayConfig {
  const dataDir = resolve(cwd, config.data_dir);
  const under = (p: string): string => (isAbsolute(p) ? p : resolve(dataDir, p));
  const bridges = resolveBridgeModules(config.bridges, configDir) as PatchbayConfig['bridges'];
  return {
    ...config,
    data_dir: dataDir,
    logging: { ...config.logging, file: config.logging.file === null ? null : under(config.logging.file) },
    homeserver: {
      ...config.homeserver,
      database: under(config.homeserver.database),
      media_dir: under(config.homeserver.media_dir),
      federation: { ...config.homeserver.federation, signing_key: under(config.homeserver.federation.signing_key) },
      app_service_config_files: config.homeserver.app_service_config_files.map((p) => resolve(cwd, p)),
    },
    host: { ...config.host, registration: under(config.host.registration) },
    bridges,
  };
}

/** Bridge sections with a relative `module:` path made absolute against the config file's folder. */
function resolveBridgeModules(bridges: Readonly<Record<string, unknown>>, configDir: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, bridge] of Object.entries(bridges)) {
    const module = isConfigMap(bridge) ? bridge.module : undefined;
    const isPath = typeof module === 'string' && (module.startsWith('./') || module.startsWith('../'));
    out[name] = isPath ? { ...(bridge as Record<string, unknown>), module: resolve(configDir, module) } : bridge;
  }
  return out;
}
