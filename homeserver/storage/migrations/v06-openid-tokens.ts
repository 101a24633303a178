import type { Migration } from '../Migration.js';

export const v06: Migration = {
  version: 6,
  sql: `
-- OpenID tokens (POST /user/{userId}/openid/request_token): they prove who a user is to widgets and
-- integrations, through /_matrix/federation/v1/openid/userinfo, and to nothing else.
CREATE TABLE openid_tokens (
  token TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  expires_ts INTEGER NOT NULL
);
CREATE INDEX openid_tokens_by_expiry ON openid_tokens(expires_ts);
`,
};
