-- Mail (issue 14): a transactional outbox. A message is written in the same transaction as the
-- event that causes it, and a worker in every `serve` delivers it over SMTP.

CREATE TABLE outbox (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at      BIGINT  NOT NULL,
    -- What happened (pin.locked, pin.changed, ...): for the log, the audit and the metrics.
    kind            TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    recipient_id    BIGINT  REFERENCES users (id) ON DELETE SET NULL,
    -- A stable Message-ID, so a retried message is recognisably the same message.
    message_id      TEXT    NOT NULL UNIQUE,
    subject         TEXT    NOT NULL,
    -- The rendered parts. A message that carries a one-time link has them sealed with the PIN
    -- key (sealed = 1; the bodies are then AEAD ciphertext), and they are emptied once it is
    -- sent, so the table never holds a usable link.
    sealed          BIGINT  NOT NULL DEFAULT 0 CHECK (sealed IN (0, 1)),
    text_body       BYTEA   NOT NULL,
    html_body       BYTEA   NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    -- A worker that claimed the message owns it until the lease runs out (it died mid-send:
    -- another worker takes it over then).
    lease_owner     TEXT,
    lease_until     BIGINT,
    sent_at         BIGINT,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
