//! Installation-wide settings (see the `settings` table).

use sqlx::AnyPool;

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
