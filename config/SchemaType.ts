// The TypeScript type of a setting, read off its JSON schema, so a setting is declared once (in the
// schema) and the code that reads it is typed from that declaration. Covers what config/schema.ts uses:
// string, integer, number, boolean and null (alone or as a list), enum, arrays, and objects whose keys are
// all required (the shipped defaults give every key a value).

type TypeOfName<T> = T extends 'string' ? string : T extends 'integer' | 'number' ? number : T extends 'boolean' ? boolean : T extends 'null' ? null : never;

/** The value type a schema (as a `const` literal) describes. */
export type SchemaType<S> = S extends { enum: ReadonlyArray<infer E> }
  ? E
  : S extends { type: 'object'; properties: infer P }
    ? { -readonly [K in keyof P]: SchemaType<P[K]> }
    : S extends { type: 'array'; items: infer I }
      ? Array<SchemaType<I>>
      : S extends { type: ReadonlyArray<infer T> }
        ? TypeOfName<T>
        : S extends { type: infer T }
          ? TypeOfName<T>
          : unknown;

/**
 * A config section whose every key is required: `required` is derived from `properties`, so the list
 * cannot fall out of step with them, and SchemaType gives each key its type.
 */
export function requiredSection<const P extends Record<string, object>>(
  head: { title: string; description: string; examples: string[] },
  properties: P,
): { type: 'object'; additionalProperties: false; title: string; description: string; examples: string[]; required: Array<keyof P & string>; properties: P } {
  return { type: 'object', additionalProperties: false, ...head, required: Object.keys(properties) as Array<keyof P & string>, properties };
}
