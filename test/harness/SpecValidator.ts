// Validates what the homeserver answers (and what it sends to appservices) against the Matrix spec's
// own OpenAPI 3.1 / JSON Schema 2020-12 data, which lives outside the repo (never copied in).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from '@apidevtools/json-schema-ref-parser';
import type { ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats';
import YAML from 'yaml';

// ajv-formats is CommonJS with `exports.default`; under NodeNext its default import is the module
// object, so pick the plugin function out of it.
const addFormats: FormatsPlugin =
  (addFormatsModule as unknown as { default?: FormatsPlugin }).default ?? (addFormatsModule as unknown as FormatsPlugin);

export type HttpMethod = 'get' | 'put' | 'post' | 'delete';

/** The repo root: the first ancestor of this file holding package.json (works from test/ and dist/test/). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('SpecValidator: no package.json above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

/** Where the spec data is expected: PATCHBAY_MATRIX_SPEC, else `<repo>/../shared/matrix-spec`. */
export function specDirectory(): string {
  return process.env.PATCHBAY_MATRIX_SPEC ?? resolve(repoRoot(), '..', 'shared', 'matrix-spec');
}

// The spec gives no regex for its mx-* formats; these check the sigil/shape the appendices describe.
const MATRIX_FORMATS: Record<string, RegExp> = {
  'mx-user-id': /^@[^:\0]+:.+$/,
  'mx-room-id': /^![^\0]+$/,
  'mx-event-id': /^\$[^\0]+$/,
  'mx-room-alias': /^#[^:\0]*:.+$/,
  'mx-server-name': /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/,
  'mx-mxc-uri': /^mxc:\/\/[^/]+\/[A-Za-z0-9_-]+$/,
  'mx-unpadded-base64': /^[A-Za-z0-9+/]*$/,
  'mx-urlsafe-unpadded-base64': /^[A-Za-z0-9_-]*$/,
};

const yamlParser = {
  order: 100,
  canParse: /\.ya?ml$/i,
  // js-yaml (the ref-parser's default) rejects one of the spec's files; yaml@2 reads them all.
  parse: (file: { data: Buffer | string }) => YAML.parse(file.data.toString()) as unknown,
};

/** JSON pointer segment escaped for use inside a URI fragment. */
function pointerSegment(segment: string): string {
  return encodeURIComponent(segment.replace(/~/g, '~0').replace(/\//g, '~1'));
}

/** Renders Ajv's errors as one readable line each: `/rooms/join/!x: must have required property 'timeline'`. */
function describeErrors(validate: ValidateFunction): string[] {
  return (validate.errors ?? []).map((e) => {
    const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : '';
    return `${e.instancePath || '/'}: ${e.message ?? e.keyword}${extra}`;
  });
}

export class SpecValidator {
  private readonly ajv: Ajv2020;
  private readonly loadedDocs = new Map<string, Promise<string>>();
  private readonly pathKeys = new Map<string, string[]>();
  private readonly compiled = new Map<string, ValidateFunction | null>();

  private constructor(readonly dir: string) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.ajv);
    for (const [name, re] of Object.entries(MATRIX_FORMATS)) this.ajv.addFormat(name, re);
    this.ajv.addFormat('int', { type: 'number', validate: (n: number) => Number.isInteger(n) });
    this.ajv.addFormat('float', { type: 'number', validate: (n: number) => Number.isFinite(n) });
  }

  /** The validator, or null (after saying why on the console) when the spec data is not on this machine. */
  static load(dir: string = specDirectory()): SpecValidator | null {
    if (!existsSync(join(dir, 'api')) || !existsSync(join(dir, 'event-schemas'))) {
      // Straight to stderr: jest drops console output of a suite whose tests are all skipped.
      process.stderr.write(
        `Matrix spec data not found at ${dir}: spec-validation tests are skipped. ` +
          'Set PATCHBAY_MATRIX_SPEC to a checkout of matrix-spec/data to run them.\n',
      );
      return null;
    }
    return new SpecValidator(dir);
  }

  /** Bundles one spec file (its external $refs pulled in) and registers it with Ajv under its own id. */
  private document(relativeFile: string): Promise<string> {
    let loading = this.loadedDocs.get(relativeFile);
    if (!loading) {
      loading = (async () => {
        const file = join(this.dir, relativeFile);
        if (!existsSync(file)) throw new Error(`SpecValidator: no spec file ${file}`);
        const doc = (await bundle(file, { parse: { yaml: yamlParser } })) as Record<string, unknown>;
        const id = `https://patchbay.invalid/spec/${relativeFile}`;
        this.ajv.addSchema({ ...doc, $id: id });
        const paths = doc.paths;
        this.pathKeys.set(relativeFile, typeof paths === 'object' && paths !== null ? Object.keys(paths) : []);
        return id;
      })();
      this.loadedDocs.set(relativeFile, loading);
    }
    return loading;
  }

  private async validator(relativeFile: string, pointer: string[]): Promise<ValidateFunction | null> {
    const id = await this.document(relativeFile);
    const ref = `${id}#/${pointer.map(pointerSegment).join('/')}`;
    if (!this.compiled.has(ref)) this.compiled.set(ref, this.ajv.getSchema(ref) ?? null);
    return this.compiled.get(ref) ?? null;
  }

  /**
   * The spec's own key for a path: some carry a trailing space to tell two operations apart
   * (`"/rooms/{roomId}/invite "` is the Matrix-ID invite, without it the third-party one).
   */
  private async pathKey(apiFile: string, path: string): Promise<string> {
    await this.document(`api/${apiFile}`);
    const keys = this.pathKeys.get(`api/${apiFile}`) ?? [];
    return keys.includes(path) ? path : (keys.find((k) => k.trim() === path) ?? path);
  }

  /**
   * Errors (empty when valid) of a response body against an OpenAPI operation, e.g.
   * `('client-server/sync.yaml', '/sync', 'get', 200, body)`. `path` is as written in the spec file
   * (relative to its base path, with `{placeholders}`). An operation/status the spec does not define is an error.
   */
  async validateResponse(apiFile: string, path: string, method: HttpMethod, status: number, body: unknown): Promise<string[]> {
    const pointer = ['paths', await this.pathKey(apiFile, path), method, 'responses', String(status), 'content', 'application/json', 'schema'];
    const validate = await this.validator(`api/${apiFile}`, pointer);
    if (!validate) return [`the spec defines no JSON response ${status} for ${method.toUpperCase()} ${path} in ${apiFile}`];
    return validate(body) ? [] : describeErrors(validate);
  }

  /** Errors of a request body against an OpenAPI operation (for the bodies the homeserver sends out). */
  async validateRequest(apiFile: string, path: string, method: HttpMethod, body: unknown): Promise<string[]> {
    const pointer = ['paths', await this.pathKey(apiFile, path), method, 'requestBody', 'content', 'application/json', 'schema'];
    const validate = await this.validator(`api/${apiFile}`, pointer);
    if (!validate) return [`the spec defines no JSON request body for ${method.toUpperCase()} ${path} in ${apiFile}`];
    return validate(body) ? [] : describeErrors(validate);
  }

  /** True when the spec has a schema for this event type (custom and unstable types have none). */
  hasEventSchema(type: string): boolean {
    return existsSync(join(this.dir, 'event-schemas', 'schema', `${type}.yaml`));
  }

  /**
   * Errors of an event against `event-schemas/schema/<type>.yaml`; an m.room.message is also checked
   * against its msgtype's schema when the spec has one. A type without a schema yields no errors.
   */
  async validateEvent(event: { type?: unknown; content?: unknown }): Promise<string[]> {
    const type = typeof event.type === 'string' ? event.type : '';
    const names = [type];
    const msgtype = (event.content as { msgtype?: unknown } | undefined)?.msgtype;
    if (type === 'm.room.message' && typeof msgtype === 'string') names.push(`m.room.message$${msgtype}`);
    const errors: string[] = [];
    for (const name of names) {
      if (!this.hasEventSchema(name)) continue;
      const validate = await this.validator(`event-schemas/schema/${name}.yaml`, []);
      if (validate && !validate(event)) errors.push(...describeErrors(validate).map((e) => `${name}: ${e}`));
    }
    return errors;
  }

  /** Errors of a value against a standalone definition file, e.g. `application-service/definitions/registration.yaml`. */
  async validateDefinition(apiFile: string, value: unknown): Promise<string[]> {
    const validate = await this.validator(`api/${apiFile}`, []);
    if (!validate) return [`no schema in ${apiFile}`];
    return validate(value) ? [] : describeErrors(validate);
  }
}
