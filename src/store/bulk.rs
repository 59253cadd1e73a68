//! Bulk inserts for load-testing data (`pinpanel bench seed`): members written many rows per
//! statement in one transaction, with one shared password hash. Bench data only.

use crate::domain::{Kind, PinState, Role};

use super::{now, Backend, Db, Tx};

/// Rows per INSERT statement (SQLite allows 32766 bound values; 9 columns × 500 stays far below).
pub const BATCH: usize = 500;

/// One member of a batch: its id (chosen by the caller, from [`first_free_user_id`]) and its
/// sealed PIN.
pub struct BulkMember {
    pub id: i64,
    pub sealed_pin: Vec<u8>,
}

/// The id after the highest user id: where a bulk insert may start numbering.
pub async fn first_free_user_id(db: &Db) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT CAST(COALESCE(MAX(id), 0) + 1 AS BIGINT) FROM users")
        .fetch_one(&db.pool)
        .await
}

/// The placeholders (`$n`) of the `row`th row of a statement whose rows bind `per_row` values
/// each, for the row's values at `positions` (1-based; one may repeat).
fn marks(row: usize, per_row: usize, positions: &[usize]) -> Vec<String> {
    positions
        .iter()
        .map(|n| format!("${}", row * per_row + n))
        .collect()
}

/// Inserts up to [`BATCH`] members of `account_id` (usernames `bench-{id}`, one shared
/// `password_hash`) and their PINs, in two statements.
pub async fn insert_members(
    tx: &mut Tx,
    account_id: i64,
    password_hash: &str,
    members: &[BulkMember],
) -> sqlx::Result<()> {
    if members.is_empty() {
        return Ok(());
    }
    let at = now();
    // created_at and updated_at share the ninth value.
    let rows: Vec<String> = (0..members.len())
        .map(|k| {
            format!(
                "({})",
                marks(k, 9, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 9]).join(", ")
            )
        })
        .collect();
    let users = format!(
        "INSERT INTO users (id, account_id, username, full_name, email, kind, role, \
         password_hash, created_at, updated_at) VALUES {}",
        rows.join(",")
    );
    let mut q = sqlx::query(&users);
    for m in members {
        q = q
            .bind(m.id)
            .bind(account_id)
            .bind(format!("bench-{}", m.id))
            .bind(format!("Bench Member {}", m.id))
            .bind(format!("bench-{}@bench.example", m.id))
            .bind(Kind::User.as_str())
            .bind(Role::User.as_str())
            .bind(password_hash)
            .bind(at);
    }
    q.execute(&mut *tx).await?;
    let rows: Vec<String> = (0..members.len())
        .map(|k| {
            let m = marks(k, 4, &[1, 2, 3, 4]);
            format!("({}, {}, {}, 0, 0, {})", m[0], m[1], m[2], m[3])
        })
        .collect();
    let pins = format!(
        "INSERT INTO support_pins (user_id, ciphertext, state, failures, version, changed_at) \
         VALUES {}",
        rows.join(",")
    );
    let mut q = sqlx::query(&pins);
    for m in members {
        q = q
            .bind(m.id)
            .bind(m.sealed_pin.clone())
            .bind(PinState::Active.as_str())
            .bind(at);
    }
    q.execute(&mut *tx).await?;
    Ok(())
}

/// After ids were chosen by hand: PostgreSQL's identity sequence moved past them, so later
/// inserts do not collide.
pub async fn after_explicit_ids(db: &Db, tx: &mut Tx) -> sqlx::Result<()> {
    if db.backend() == Backend::Postgres {
        sqlx::query(
            "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT MAX(id) FROM users))",
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// SQLite: the bulk insert moved from the WAL into the database file now; otherwise the next
/// start reads a WAL of hundreds of megabytes to rebuild its index.
pub async fn checkpoint(db: &Db) -> sqlx::Result<()> {
    if db.backend() == Backend::Sqlite {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&db.pool)
            .await?;
    }
    Ok(())
}
