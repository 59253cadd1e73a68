-- Security, third round (issue 23).

-- The second step's ceiling: wrong second steps for a person, counted across addresses and
-- instances, and when they were last told someone is trying (at most once an hour). Only a
-- recovery code, a passkey or an administrator starts the count again.
ALTER TABLE users ADD COLUMN second_step_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN second_step_alerted_at INTEGER;

-- API tokens on the sessions page: a handle to revoke one by (never the token or its hash),
-- where it was issued, when it was last used (written at most once a minute).
ALTER TABLE api_tokens ADD COLUMN handle TEXT;
ALTER TABLE api_tokens ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN last_used_at INTEGER;
UPDATE api_tokens SET handle = substr(token_hash, 1, 32) WHERE handle IS NULL;
CREATE UNIQUE INDEX api_tokens_handle ON api_tokens (handle);

-- E-mail address changes. A change waits here until it takes effect: a person's own change when
-- the link mailed to the new address is opened; an administrator's (or a provisioning token's)
-- request when the member accepts it (on their profile, or with the link mailed to the current
-- address). Only a hash of the link's token is kept.
CREATE TABLE email_changes (
    id                INTEGER PRIMARY KEY,
    user_id           INTEGER  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    new_email         TEXT    NOT NULL,
    -- The person's own change (1: the new address's link confirms it), or someone else's
    -- request (0: the member accepts it). Who asked, by id when a person, by name for notices.
    own               INTEGER  NOT NULL CHECK (own IN (0, 1)),
    requested_by      INTEGER  REFERENCES users (id) ON DELETE SET NULL,
    requested_by_name TEXT    NOT NULL,
    token_hash        TEXT    NOT NULL UNIQUE,
    created_at        INTEGER  NOT NULL,
    expires_at        INTEGER  NOT NULL,
    -- 'pending' until it takes effect ('done'), is declined, or is voided (a newer request, a
    -- password set, the member disabled).
    state             TEXT    NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'done', 'declined', 'voided')),
    decided_at        INTEGER
);
CREATE INDEX email_changes_user ON email_changes (user_id, state);
