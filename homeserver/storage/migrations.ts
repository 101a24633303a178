// The room core's schema, one numbered step per file under migrations/, applied in this order.
import { v01 } from './migrations/v01-rooms-and-accounts.js';
import { v02 } from './migrations/v02-push-rules.js';
import { v03 } from './migrations/v03-room-changes.js';
import { v04 } from './migrations/v04-to-device.js';
import { v05 } from './migrations/v05-device-last-seen.js';
import { v06 } from './migrations/v06-openid-tokens.js';
import { v07 } from './migrations/v07-transaction-scope.js';
import { v08 } from './migrations/v08-e2ee.js';
import { v09 } from './migrations/v09-e2ee-again.js';
import { v10 } from './migrations/v10-push-actions.js';
import { v11 } from './migrations/v11-search-index.js';
import { v12 } from './migrations/v12-pdus.js';
import { v13 } from './migrations/v13-federation-outbox.js';
import { v14 } from './migrations/v14-remote-keys-and-media.js';
import { v15 } from './migrations/v15-federation-received-txns.js';
import { v16 } from './migrations/v16-event-state.js';
import { v17 } from './migrations/v17-federated-device-lists.js';
import { v18 } from './migrations/v18-events-by-time.js';
import type { Migration } from './Migration.js';

export type { Migration };

export const CORE_MIGRATIONS: Migration[] = [
  v01, v02, v03, v04, v05, v06, v07, v08, v09, v10, v11, v12, v13, v14, v15, v16, v17, v18,
];
