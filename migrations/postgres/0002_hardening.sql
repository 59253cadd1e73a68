-- Security hardening (issue 12).

-- Attempts refused by a throttle are counted on the throttle's own row, not written to the
-- audit log one row each: only the first refusal of a window is an audit event.
ALTER TABLE throttle ADD COLUMN refused BIGINT NOT NULL DEFAULT 0;

-- Audit rows older than PINPANEL_AUDIT_RETENTION_DAYS are purged; the purge reads by time.
CREATE INDEX audit_at ON audit_log (at);
