-- Pages that cost the same on day 400 of the audit log as on day 1 (issue 29).

-- The activity filter an event falls under (domain::ActivityKind, NULL for none), written with
-- the event: the profile's PIN events and the Activity page's kind filter read one index range
-- newest first and stop at their limit, instead of filtering a member's or an account's whole
-- history by event name. Rows written before this migration get it from their names.
ALTER TABLE audit_log ADD COLUMN category TEXT;
UPDATE audit_log SET category = CASE
    WHEN event IN ('throttled', 'permission.denied', 'key.rotated') THEN NULL
    WHEN event LIKE 'pin.%' THEN 'pin'
    WHEN event LIKE 'two_step.%' THEN 'two-step'
    WHEN event LIKE 'mail.%' THEN 'mail'
    WHEN event LIKE 'login.%' OR event LIKE 'sso.%' OR event LIKE 'reauth.%'
      OR event LIKE 'token.%' OR event = 'logout' THEN 'logins'
    ELSE 'members'
END;
CREATE INDEX audit_subject_category ON audit_log (subject_id, category, id);
CREATE INDEX audit_account_category ON audit_log (account_id, category, id);

-- When the PIN last saw an event (the Users page's "last PIN activity"), kept on the PIN's row
-- by the insert of the event itself (a trigger: in the same transaction, with no statement more
-- per verification, and no way for a new code path to forget it), instead of a MAX over each
-- member's events.
ALTER TABLE support_pins ADD COLUMN last_event_at INTEGER;
UPDATE support_pins SET last_event_at = (
    SELECT MAX(a.at) FROM audit_log a WHERE a.subject_id = support_pins.user_id AND a.category = 'pin'
);
CREATE TRIGGER audit_pin_last_event AFTER INSERT ON audit_log
WHEN NEW.category = 'pin' AND NEW.subject_id IS NOT NULL
BEGIN
    UPDATE support_pins SET last_event_at = NEW.at
     WHERE user_id = NEW.subject_id AND (last_event_at IS NULL OR last_event_at < NEW.at);
END;

-- The Overview's verifications per day (correct, wrong, locked), counted as each is written
-- (a trigger again): the chart reads at most 90 rows, not the 30 days of verifications behind
-- them (75 000 in a busy account, read on every view of an administrator's first page).
CREATE TABLE verification_days (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- Days since the epoch, UTC.
    day        INTEGER NOT NULL,
    event      TEXT    NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (account_id, day, event)
);
INSERT INTO verification_days (account_id, day, event, n)
SELECT account_id, at / 86400, event, COUNT(*) FROM audit_log
 WHERE account_id IS NOT NULL AND event IN ('pin.verified', 'pin.verify_failed', 'pin.locked')
 GROUP BY account_id, at / 86400, event;
CREATE TRIGGER audit_verification_day AFTER INSERT ON audit_log
WHEN NEW.account_id IS NOT NULL AND NEW.event IN ('pin.verified', 'pin.verify_failed', 'pin.locked')
BEGIN
    INSERT INTO verification_days (account_id, day, event, n)
    VALUES (NEW.account_id, NEW.at / 86400, NEW.event, 1)
    ON CONFLICT (account_id, day, event) DO UPDATE SET n = n + 1;
END;
