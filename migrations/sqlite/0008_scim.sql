-- Provisioning with SCIM 2.0 (issue 25).

-- A provisioning token: one account's identity system creates, changes and removes that
-- account's members with it. Only a hash of the token is kept; it is shown once.
CREATE TABLE scim_tokens (
    id              INTEGER PRIMARY KEY,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    token_hash      TEXT    NOT NULL UNIQUE,
    created_by_name TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER
);
CREATE INDEX scim_tokens_account ON scim_tokens (account_id);

-- What an identity system said of a member that pinpanel has no column for, kept as given (JSON:
-- the name's parts, displayName, userType, the address's type, whether it set `active`), so a
-- read returns exactly what was written. NULL for members made another way.
ALTER TABLE users ADD COLUMN scim_attrs TEXT;
-- Every change of what SCIM shows of a member counts: `version` is its ETag, `updated_at` its
-- meta.lastModified. Kept by the trigger below, whichever face or command made the change (a
-- statement that only takes the row's lock, `SET id = id`, changes neither).
ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE users SET updated_at = created_at;
CREATE TRIGGER users_version
    AFTER UPDATE OF username, full_name, email, kind, role, disabled, external_id, scim_attrs
    ON users
    FOR EACH ROW WHEN NEW.version = OLD.version
BEGIN
    UPDATE users SET version = OLD.version + 1,
                     updated_at = CAST(strftime('%s', 'now') AS INTEGER)
     WHERE id = NEW.id;
END;

-- An account's members in the order they were made, from the index alone (SCIM's pages).
DROP INDEX users_account;
CREATE INDEX users_account ON users (account_id, id);

-- An account whose members sign in only through single sign-on: members its identity system
-- creates get no invitation and no password.
ALTER TABLE accounts ADD COLUMN sso_only INTEGER NOT NULL DEFAULT 0 CHECK (sso_only IN (0, 1));

-- A removed member's activity stays: their name is written into their events, which no longer
-- point at the row.
ALTER TABLE audit_log ADD COLUMN subject_name TEXT;
CREATE INDEX audit_actor ON audit_log (actor_id);
