//! The web session store: tower-sessions records kept in our own `sessions` table on either
//! backend.
//!
//! Why not tower-sessions-sqlx-store: its `save` is an upsert, so a slow request that finishes
//! after a logout writes the deleted session back (the logout race SECURITY.md describes); it
//! keeps the session id itself in the table and inside every record, so a copy of the table is a
//! set of live cookies; and it needs a concrete SqlitePool/PgPool beside our Any pool. Here `save`
//! only updates a row that still exists, rows are keyed by SHA-256 of the id, the record's id is
//! not stored, and a `user_id` column lets us end one person's sessions.

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, AnyPool, Row};
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

#[derive(Debug, Clone)]
pub struct DbSessionStore {
    pool: AnyPool,
    /// The record key holding the logged-in person's id, mirrored into the `user_id` column.
    user_key: &'static str,
    /// The record key under which `load` hands over the person with their account, read in
    /// the same statement as the record (one round trip instead of two for every page); it is
    /// never written back.
    person_key: &'static str,
}

impl DbSessionStore {
    pub fn new(pool: AnyPool, user_key: &'static str, person_key: &'static str) -> Self {
        DbSessionStore {
            pool,
            user_key,
            person_key,
        }
    }
}

/// What the `id_hash` column holds for a session id.
pub fn id_hash(id: &Id) -> String {
    hash_of(&id.to_string())
}

/// [`id_hash`] of a session id as text.
pub fn hash_of(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

/// How a store error begins when the database is out of reach: the session store's trait
/// carries text only, so this file both writes and reads the mark ([`is_unavailable_error`]).
const UNAVAILABLE: &str = "the database cannot be reached";

/// A statement's error as the session store reports it, marked when the database is out of
/// reach.
fn db(e: sqlx::Error) -> session_store::Error {
    if super::is_unavailable(&e) {
        session_store::Error::Backend(format!("{UNAVAILABLE}: {e}"))
    } else {
        backend(e)
    }
}

/// Did the session store fail because the database is out of reach (worth trying again in a
/// moment), rather than on a wrong record?
pub fn is_unavailable_error(e: &session_store::Error) -> bool {
    matches!(e, session_store::Error::Backend(m) if m.starts_with(UNAVAILABLE))
}

impl DbSessionStore {
    fn encode(&self, record: &Record) -> session_store::Result<(Vec<u8>, Option<i64>, i64)> {
        let mut stored = record.data.clone();
        stored.remove(self.person_key);
        let data =
            serde_json::to_vec(&stored).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let user_id = record.data.get(self.user_key).and_then(|v| v.as_i64());
        Ok((data, user_id, record.expiry_date.unix_timestamp()))
    }
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let (data, user_id, expires_at) = self.encode(record)?;
        // A 128-bit random id colliding is practically impossible, but the trait asks stores to
        // handle it: draw a new one and try again.
        loop {
            let done = sqlx::query(
                "INSERT INTO sessions (id_hash, user_id, data, expires_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id_hash) DO NOTHING",
            )
            .bind(id_hash(&record.id))
            .bind(user_id)
            .bind(data.clone())
            .bind(expires_at)
            .execute(&self.pool)
            .await
            .map_err(db)?;
            if done.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (data, user_id, expires_at) = self.encode(record)?;
        // UPDATE only: a session deleted by a logout stays deleted.
        sqlx::query(
            "UPDATE sessions SET user_id = $2, data = $3, expires_at = $4 WHERE id_hash = $1",
        )
        .bind(id_hash(&record.id))
        .bind(user_id)
        .bind(data)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let row = sqlx::query(&format!(
            "SELECT s.data, s.expires_at, {} FROM sessions s \
             LEFT JOIN users u ON u.id = s.user_id LEFT JOIN accounts a ON a.id = u.account_id \
             WHERE s.id_hash = $1 AND s.expires_at > $2",
            super::users::PERSON_COLUMNS
        ))
        .bind(id_hash(session_id))
        .bind(super::now())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        let Some(row) = row else { return Ok(None) };
        let data: Vec<u8> = row.try_get("data").map_err(backend)?;
        let expires_at: i64 = row.try_get("expires_at").map_err(backend)?;
        let mut data: std::collections::HashMap<String, serde_json::Value> =
            serde_json::from_slice(&data)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        if let Some(person) = super::users::person_from_row(&row).map_err(backend)? {
            let value = serde_json::to_value(&person)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?;
            data.insert(self.person_key.to_owned(), value);
        }
        Ok(Some(Record {
            id: *session_id,
            data,
            expiry_date: OffsetDateTime::from_unix_timestamp(expires_at).map_err(backend)?,
        }))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash(session_id))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }
}

/// Ends every session of `user_id`.
pub async fn delete_for_user(conn: &mut AnyConnection, user_id: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

pub async fn delete_expired(pool: &AnyPool, now: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

/// The sessions of `user_id` that have not expired: (id hash, record data).
pub async fn for_user(
    pool: &AnyPool,
    user_id: i64,
    now: i64,
) -> sqlx::Result<Vec<(String, Vec<u8>)>> {
    sqlx::query_as(
        "SELECT id_hash, data FROM sessions WHERE user_id = $1 AND expires_at > $2 ORDER BY id_hash",
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(pool)
    .await
}

/// Ends one session of `user_id` (by its id hash); `false` when it was not theirs or is gone.
pub async fn delete_one(pool: &AnyPool, user_id: i64, hash: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash = $2")
        .bind(user_id)
        .bind(hash)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends every session of `user_id` but the one with `keep` as its id hash.
pub async fn delete_others(
    conn: &mut AnyConnection,
    user_id: i64,
    keep: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
        .bind(user_id)
        .bind(keep)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
