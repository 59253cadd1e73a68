-- pinpanel schema, SQLite flavour (migrations/postgres holds the same schema for PostgreSQL).
-- Times are unix seconds in INTEGER columns and flags are 0/1 integers: sqlx's Any driver, which
-- the application uses for both backends, cannot decode SQLite booleans or TIMESTAMP columns.

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    number        TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    -- 'self': a member may unlock their own PIN (SPEC's default); 'admins': only administrators.
    unlock_policy TEXT    NOT NULL DEFAULT 'self' CHECK (unlock_policy IN ('self', 'admins')),
    created_at    INTEGER NOT NULL
);

-- Account members and support agents share one table so that login, sessions, API tokens and
-- the audit log treat every person alike. An agent has no account, no kind and role 'agent'.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER REFERENCES accounts (id),
    username      TEXT    NOT NULL UNIQUE,
    full_name     TEXT    NOT NULL,
    email         TEXT,
    kind          TEXT    CHECK (kind IN ('user', 'contact')),
    role          TEXT    NOT NULL CHECK (role IN ('user', 'admin', 'agent')),
    password_hash TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    -- Bumped when the password, the role or the enabled flag changes: a session or token
    -- minted under an older epoch is dead.
    auth_epoch    INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    CHECK ((role = 'agent') = (account_id IS NULL)),
    CHECK ((role = 'agent') = (kind IS NULL))
);
CREATE INDEX users_account ON users (account_id);

-- One row per member. The PIN is stored encrypted (nonce || AEAD ciphertext, the member's id as
-- associated data); a member without a PIN has state INACTIVE and no ciphertext.
CREATE TABLE support_pins (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    ciphertext BLOB,
    state      TEXT    NOT NULL CHECK (state IN ('ACTIVE', 'LOCKED', 'INACTIVE')),
    -- Consecutive failed verifications; only ever changed by single guarded UPDATEs.
    failures   INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    -- Bumped on every change of the PIN, so a verification that read an older PIN cannot
    -- count against (or reset) the new one.
    version    INTEGER NOT NULL DEFAULT 0,
    changed_at INTEGER,
    locked_at  INTEGER,
    CHECK ((state = 'INACTIVE') = (ciphertext IS NULL))
);

-- Security events. Never holds a secret: no PIN, password, token or session id.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    event       TEXT    NOT NULL,
    actor_id    INTEGER REFERENCES users (id),
    actor_name  TEXT    NOT NULL,
    subject_id  INTEGER REFERENCES users (id),
    account_id  INTEGER REFERENCES accounts (id),
    detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_subject ON audit_log (subject_id, id);

-- Web sessions (tower-sessions records). The id column holds SHA-256 of the session id, so a
-- copy of this table does not hold live cookies; user_id lets us end a person's sessions.
CREATE TABLE sessions (
    id_hash    TEXT    PRIMARY KEY,
    user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
    data       BLOB    NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- API tokens (X-Auth-Token), stored as SHA-256 of the token.
CREATE TABLE api_tokens (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_epoch INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Fixed-window counters for throttling (failed logins per username and per address, verify
-- attempts per agent, token requests), shared by every instance on the same database.
CREATE TABLE throttle (
    key          TEXT    PRIMARY KEY,
    window_start INTEGER NOT NULL,
    hits         INTEGER NOT NULL
);

-- Installation-wide values; today only 'key_check', a known text encrypted with the PIN key,
-- so that starting with the wrong key is a clear error instead of PINs that cannot be read.
CREATE TABLE settings (
    name  TEXT  PRIMARY KEY,
    value BLOB NOT NULL
);
