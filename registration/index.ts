// Appservice registration files: the type, YAML load/save, validation, generation, namespace matching.
export type { AppserviceRegistration, Namespace } from './AppserviceRegistration.js';
export { RegistrationError } from './RegistrationError.js';
export { validateRegistration } from './validateRegistration.js';
export { readRegistrationFile, writeRegistrationFile } from './registrationFile.js';
export { RegistrationNamespaces } from './RegistrationNamespaces.js';
export { generateRegistration, type BridgeNamespaceSpec, type GenerateRegistrationOptions } from './generateRegistration.js';
export { escapeRegex } from './escapeRegex.js';
