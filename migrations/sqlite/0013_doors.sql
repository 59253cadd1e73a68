-- Security, fourth round (issue 36): the doors single sign-on, SCIM and the import opened.

-- An identity-system id (SCIM's `externalId`, the import's `external_id`) links a first single
-- sign-on only when provisioning gave it to the member it was creating: a token that changes the
-- id of a member who is there already (an administrator, say) writes a label, never a way in.
-- Cleared by any later change of the id. Members already there keep it only when they cannot
-- sign in yet (no password, no identity), as every such link also requires at sign-in.
ALTER TABLE users ADD COLUMN external_id_links INTEGER NOT NULL DEFAULT 0
    CHECK (external_id_links IN (0, 1));
UPDATE users SET external_id_links = 1
 WHERE external_id IS NOT NULL AND external_id <> '' AND password_hash = '!not set: invited'
   AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.user_id = users.id);

-- Who made a provisioning token: it ends with its maker's sessions and API tokens (a password
-- change, a demotion, being disabled), so a token made from a borrowed session does not outlive
-- the owner's reaction. NULL for the command line's. Tokens made before this by a member still
-- there are theirs by username.
ALTER TABLE scim_tokens ADD COLUMN created_by_id INTEGER REFERENCES users (id) ON DELETE SET NULL;
UPDATE scim_tokens SET created_by_id =
    (SELECT u.id FROM users u WHERE u.username = scim_tokens.created_by_name
        AND u.account_id = scim_tokens.account_id);
CREATE INDEX scim_tokens_created_by ON scim_tokens (created_by_id);
