// Shapes of the Matrix spec that both homeserver/ and core/ speak. A leaf: it imports nothing, and both
// sides import it (as they import registration/) without importing each other.
export type { ClientEvent } from './ClientEvent.js';
