// Built-in bridges by config name. `bin/` hands this to the plugin loader, so core/ imports no bridge;
// each bridge module is imported only when its section is enabled. A new built-in adds one line here.
import type { BuiltinBridgeRegistry } from '../core/plugin-api/index.js';

export const builtinBridges: BuiltinBridgeRegistry = {
  email: async () => (await import('./email/index.js')).default,
  example: async () => (await import('./example/index.js')).default,
  irc: async () => (await import('./irc/index.js')).default,
  sip: async () => (await import('./sip/index.js')).default,
  webhook: async () => (await import('./webhook/index.js')).default,
};
