-- Single sign-on through an OpenID Connect provider (issue 24).

-- The identities a member signs in with: the provider's (issuer, subject) pair, never an e-mail
-- address alone. One identity belongs to one member.
CREATE TABLE identities (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issuer       TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    -- The address the provider gave when the identity was linked (for the member's page).
    email        TEXT,
    created_at   INTEGER  NOT NULL,
    last_used_at INTEGER,
    UNIQUE (issuer, subject)
);
CREATE INDEX identities_user ON identities (user_id);

-- A sign-in (or a link) on its way through the provider, for ten minutes: found by a hash of its
-- state, bound to the browser that started it by a hash of a cookie's value, used once. The PKCE
-- verifier and the nonce are sealed with the PIN key.
CREATE TABLE sso_attempts (
    state_hash   TEXT    PRIMARY KEY,
    browser_hash TEXT    NOT NULL,
    purpose      TEXT    NOT NULL CHECK (purpose IN ('login', 'link', 'reauth')),
    -- Who links an identity or confirms who they are (purposes 'link' and 'reauth').
    user_id      INTEGER  REFERENCES users (id) ON DELETE CASCADE,
    secrets      BLOB   NOT NULL,
    next         TEXT,
    created_at   INTEGER  NOT NULL,
    expires_at   INTEGER  NOT NULL,
    used_at      INTEGER
);

-- A member who signs in only through single sign-on: their password stops working.
ALTER TABLE users ADD COLUMN sso_only INTEGER NOT NULL DEFAULT 0 CHECK (sso_only IN (0, 1));
-- The identity system's id for the member (SCIM's externalId): a sign-in whose subject equals it
-- is this member's.
ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE INDEX users_external_id ON users (external_id);
