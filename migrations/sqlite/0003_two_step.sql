-- Two-step login (issue 13): authenticator apps (TOTP), recovery codes and passkeys.

-- The WebAuthn user handle: a random id that stands for the person on their authenticators
-- (never the username or the row id). Set when the first passkey is registered.
ALTER TABLE users ADD COLUMN webauthn_id TEXT;

-- One authenticator app per person. The secret is encrypted like a PIN (the PIN key, the
-- person's id in the associated data). Unconfirmed until the first code is entered; last_step
-- is the last TOTP time step accepted, so a code is accepted once.
CREATE TABLE totp_secrets (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    ciphertext BLOB    NOT NULL,
    confirmed  INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
    last_step  INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

-- Ten one-use recovery codes per person, stored as an HMAC (never the code).
CREATE TABLE recovery_codes (
    id        INTEGER PRIMARY KEY,
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT    NOT NULL,
    used_at   INTEGER,
    UNIQUE (user_id, code_hash)
);

-- Passkeys (WebAuthn credentials). `passkey` is webauthn-rs's serialised credential: a public
-- key and a counter, nothing secret. A credential id belongs to one person only.
CREATE TABLE passkeys (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    cred_id      TEXT    NOT NULL UNIQUE,
    passkey      TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- The API's multi-factor step: after a correct password, a one-use session id (stored hashed)
-- that a passcode exchanges for a token within minutes.
CREATE TABLE mfa_sessions (
    id_hash    TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_epoch INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- How a token's holder authenticated: 1 when a second factor was given too.
ALTER TABLE api_tokens ADD COLUMN second_factor INTEGER NOT NULL DEFAULT 0;
