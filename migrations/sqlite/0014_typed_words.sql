-- Words that are types (issue 37). Who did an event is a kind in a column of its own
-- (domain::ActorKind); the name beside it is a member's username or a provisioning token's name,
-- never a word the pages read back to tell the kinds apart.
ALTER TABLE audit_log ADD COLUMN actor_kind TEXT NOT NULL DEFAULT 'member';
UPDATE audit_log SET actor_kind = 'operator', actor_name = ''
 WHERE actor_id IS NULL AND actor_name = 'command line';
UPDATE audit_log SET actor_kind = 'panel', actor_name = ''
 WHERE actor_id IS NULL AND actor_name = 'pinpanel';
UPDATE audit_log SET actor_kind = 'provisioning', actor_name = SUBSTR(actor_name, 15)
 WHERE actor_id IS NULL AND actor_name LIKE 'provisioning: %';

-- Ending every other session is an event of its own (login.others_ended), not a detail the
-- activity parsed; its detail keeps the counts for people.
UPDATE audit_log SET event = 'login.others_ended', detail = SUBSTR(detail, 12)
 WHERE event = 'login.session_ended' AND detail LIKE 'all others %';
UPDATE audit_log SET detail = '' WHERE event = 'login.session_ended' AND detail = 'one';
