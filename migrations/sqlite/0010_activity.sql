-- At a glance (issue 27): events in words need where a login came from and the ticket or call a
-- verification was for; the agent's page reads their own verifications; the Overview counts an
-- account's verifications per day; an alarm for impostors; the Users page pages by name.

-- The client address of a login, and the reference an agent gave with a verification.
ALTER TABLE audit_log ADD COLUMN address TEXT;
ALTER TABLE audit_log ADD COLUMN reference TEXT;
-- The agent's own verifications, newest first (the index of issue 25 had no order).
DROP INDEX audit_actor;
CREATE INDEX audit_actor ON audit_log (actor_id, id);
CREATE INDEX audit_account_event_at ON audit_log (account_id, event, at);

-- The Users page, 50 members at a time in the order of their names.
CREATE INDEX users_account_name ON users (account_id, full_name, username);

-- When the account's administrators were last warned (at most once an hour: set by one
-- compare-and-set statement, so two verifications at once raise one alarm).
ALTER TABLE accounts ADD COLUMN alarm_at INTEGER;

-- The warnings themselves, shown on the Overview until an administrator acknowledges them.
CREATE TABLE alarms (
    id              INTEGER PRIMARY KEY,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    raised_at       INTEGER NOT NULL,
    reason          TEXT    NOT NULL CHECK (reason IN ('wrong', 'locked')),
    count           INTEGER NOT NULL,
    acknowledged_at INTEGER,
    acknowledged_by TEXT
);
CREATE INDEX alarms_account ON alarms (account_id, id);

-- The Overview's locked members: few at any time, found without reading the account's members.
CREATE INDEX support_pins_locked ON support_pins (user_id) WHERE state = 'LOCKED';
