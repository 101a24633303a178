// The example bridge's module. Its default export (or a `createPlugin` export) is the PluginFactory the
// host calls: a function returning a fresh plugin. A third-party plugin's module looks exactly like this.
import type { PluginFactory } from 'patchbay-matrix/plugin';
import type { ExampleConfig } from './config.js';
import { ExampleBridge } from './ExampleBridge.js';

export { ExampleBridge, exampleDescriptor, type ExampleRecord } from './ExampleBridge.js';
export type { ExampleConfig } from './config.js';

const createExampleBridge: PluginFactory<ExampleConfig> = () => new ExampleBridge();
export default createExampleBridge;
