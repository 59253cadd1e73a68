-- The Users page at 10 000 members (issue 27): how many members an account has, kept on the
-- account's row by the insert, delete or move of a member itself (a trigger: in the same
-- transaction, and no code path can forget it), instead of a count of the account's entries
-- of the name index on every view of the page. The update holds the account's row until the
-- member's transaction ends: members are added to one account one transaction at a time.
ALTER TABLE accounts ADD COLUMN member_count BIGINT NOT NULL DEFAULT 0;
UPDATE accounts SET member_count = (SELECT COUNT(*) FROM users u WHERE u.account_id = accounts.id);
CREATE FUNCTION users_member_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.account_id IS NOT NULL THEN
        UPDATE accounts SET member_count = member_count - 1 WHERE id = OLD.account_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.account_id IS NOT NULL THEN
        UPDATE accounts SET member_count = member_count + 1 WHERE id = NEW.account_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_member_added AFTER INSERT ON users FOR EACH ROW
    WHEN (NEW.account_id IS NOT NULL)
    EXECUTE FUNCTION users_member_count();
CREATE TRIGGER users_member_removed AFTER DELETE ON users FOR EACH ROW
    WHEN (OLD.account_id IS NOT NULL)
    EXECUTE FUNCTION users_member_count();
CREATE TRIGGER users_member_moved AFTER UPDATE OF account_id ON users FOR EACH ROW
    WHEN (OLD.account_id IS DISTINCT FROM NEW.account_id)
    EXECUTE FUNCTION users_member_count();
