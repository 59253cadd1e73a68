-- The Users page at 10 000 members (issue 27): how many members an account has, kept on the
-- account's row by the insert, delete or move of a member itself (triggers: in the same
-- transaction, and no code path can forget it), instead of a count of the account's entries
-- of the name index on every view of the page.
ALTER TABLE accounts ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET member_count = (SELECT COUNT(*) FROM users u WHERE u.account_id = accounts.id);
CREATE TRIGGER users_member_added AFTER INSERT ON users
WHEN NEW.account_id IS NOT NULL
BEGIN
    UPDATE accounts SET member_count = member_count + 1 WHERE id = NEW.account_id;
END;
CREATE TRIGGER users_member_removed AFTER DELETE ON users
WHEN OLD.account_id IS NOT NULL
BEGIN
    UPDATE accounts SET member_count = member_count - 1 WHERE id = OLD.account_id;
END;
CREATE TRIGGER users_member_moved AFTER UPDATE OF account_id ON users
WHEN OLD.account_id IS NOT NEW.account_id
BEGIN
    UPDATE accounts SET member_count = member_count - 1 WHERE id = OLD.account_id;
    UPDATE accounts SET member_count = member_count + 1 WHERE id = NEW.account_id;
END;
