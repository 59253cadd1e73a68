-- Importing members from a CSV file in the browser (issue 26): one import per row, run in the
-- background by whichever instance holds its lease, resumed by another when the lease runs out
-- (the instance stopped). The file is kept sealed with the PIN key (it may hold PINs) until the
-- import ends.
CREATE TABLE imports (
    id              INTEGER PRIMARY KEY,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_by_id   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_by_name TEXT    NOT NULL,
    state           TEXT    NOT NULL
        CHECK (state IN ('preview', 'queued', 'running', 'done', 'failed')),
    invite          INTEGER NOT NULL CHECK (invite IN (0, 1)),
    file            BLOB,
    rows            INTEGER NOT NULL,
    -- Rows already there with the same values when the import started.
    skipped         INTEGER NOT NULL DEFAULT 0,
    created         INTEGER NOT NULL DEFAULT 0,
    invitations     INTEGER NOT NULL DEFAULT 0,
    error           TEXT,
    created_at      INTEGER NOT NULL,
    started_at      INTEGER,
    finished_at     INTEGER,
    lease_until     INTEGER
);
CREATE INDEX imports_account ON imports (account_id, id);
CREATE INDEX imports_waiting ON imports (state, lease_until);
