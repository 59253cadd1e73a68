-- Running an account from the browser (issue 15).

-- One-time links: an invitation (72 hours), a forgotten-password link (one hour), the first
-- start's set-up link. Only a hash of the token is kept; a link works once (used_at).
CREATE TABLE one_time_links (
    token_hash TEXT    PRIMARY KEY,
    purpose    TEXT    NOT NULL CHECK (purpose IN ('invitation', 'password', 'setup')),
    user_id    BIGINT  REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    used_at    BIGINT
);
CREATE INDEX one_time_links_user ON one_time_links (user_id);

-- The account's activity page reads the audit log by account, newest first.
CREATE INDEX audit_account ON audit_log (account_id, id);
