// The example bridge's config section, `bridges.example`: its type and its JSON Schema. The host checks
// the section against the schema once at startup and fills in the defaults; its error messages are made
// from each key's title, description and examples, so give every key all three.
import type { JsonSchema } from 'patchbay-matrix/plugin';

export interface ExampleConfig {
  /** Messages starting with this word are echoed back by the echo ghost. */
  echo_command: string;
  /** Remote id of the ghost that echoes (`@example_<id>:server`). */
  echo_ghost: string;
  echo_display_name: string;
  /** PluginStore list where every event the plugin receives is recorded once (for tests and curiosity). */
  record_list: string;
}

export const configSchema: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  additionalProperties: false,
  properties: {
    echo_command: { type: 'string', pattern: '^\\S+$', default: '!echo', title: 'a command word', description: 'one word without spaces', examples: ['!echo'] },
    echo_ghost: { type: 'string', minLength: 1, default: 'echo', title: 'a remote user id', description: 'the remote id of the ghost that echoes', examples: ['echo'] },
    echo_display_name: { type: 'string', minLength: 1, default: 'Echo', title: 'a display name', description: 'the display name of the echo ghost', examples: ['Echo'] },
    record_list: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$', default: 'received', title: 'a list name', description: 'letters, digits, _ . -', examples: ['received'] },
  },
};
