import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats';
import { describeSchemaErrors } from '../../config/index.js';
import type { JsonSchema } from '../plugin-api/index.js';

// ajv-formats is CommonJS: under NodeNext its default export arrives as the module object.
const addFormats: FormatsPlugin =
  (addFormatsModule as unknown as { default?: FormatsPlugin }).default ?? (addFormatsModule as unknown as FormatsPlugin);

/** Patchbay's own keys of a bridge section; the plugin's schema never sees them. */
export const HOST_BRIDGE_KEYS = ['enabled', 'module'] as const;

/**
 * Validates each plugin's config section once, at startup, against its descriptor's JSON Schema
 * (draft 2020-12), filling in the schema's defaults. Problems are worded like the main config's:
 * `bridges.<name>.<key>: <value> is not <title>. Fix: ...`.
 */
export class PluginConfigValidator {
  private readonly ajv = new Ajv2020({ allErrors: true, verbose: true, useDefaults: true, strict: false, allowUnionTypes: true });

  constructor() {
    addFormats(this.ajv);
  }

  /**
   * The plugin's section (without `enabled`/`module`), defaults applied, plus the problems found (empty
   * when valid). A schema that does not compile is itself reported as a problem of that bridge.
   */
  validate(bridge: string, section: Record<string, unknown>, schema: JsonSchema | undefined): { config: Record<string, unknown>; problems: string[] } {
    const config = structuredClone(section);
    for (const k of HOST_BRIDGE_KEYS) delete config[k];
    if (!schema) return { config, problems: [] };
    let validate;
    try {
      validate = this.ajv.compile(schema);
    } catch (err) {
      return {
        config,
        problems: [`bridges.${bridge}: the plugin's config schema does not compile (${err instanceof Error ? err.message : String(err)}). Fix: report it to the plugin's author`],
      };
    }
    if (validate(config)) return { config, problems: [] };
    // Re-root the errors under bridges.<name> so the messages name the key as the user wrote it.
    const errors = (validate.errors ?? []).map((e) => ({ ...e, instancePath: `/bridges/${bridge}${e.instancePath}` }));
    const problems = describeSchemaErrors(errors, { bridges: { [bridge]: config } }, new Set());
    return { config, problems };
  }
}
