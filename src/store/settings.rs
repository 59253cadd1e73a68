//! Installation-wide settings (see the `settings` table).

use sqlx::{AnyConnection, AnyPool};

pub async fn get(pool: &AnyPool, name: &str) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
}

/// Stores `value` under `name` unless a value is already there; returns the stored value, so two
/// instances starting at once agree on one.
pub async fn get_or_insert(pool: &AnyPool, name: &str, value: &[u8]) -> sqlx::Result<Vec<u8>> {
    sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(value.to_vec())
        .execute(pool)
        .await?;
    sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
        .bind(name)
        .fetch_one(pool)
        .await
}

/// Holds the row `name` for the rest of the caller's transaction if its value is still
/// `expected` (a row lock on PostgreSQL, the write lock on SQLite): `false` when it has changed.
/// Writers that seal with the PIN key hold the key check this way, so a key rotation (which
/// takes the same row first) and a seal with the old key happen one after the other, never
/// interleaved.
pub async fn hold(conn: &mut AnyConnection, name: &str, expected: &[u8]) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE settings SET value = value WHERE name = $1 AND value = $2")
        .bind(name)
        .bind(expected.to_vec())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes the row `name` for the rest of the caller's transaction, whatever its value.
pub async fn touch(conn: &mut AnyConnection, name: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE settings SET value = value WHERE name = $1")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}
