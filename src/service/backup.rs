//! `pinpanel backup`: a consistent, checked copy of a SQLite database, readable only by its
//! owner. PostgreSQL is refused with the way to back it up (`pg_dump`).

use anyhow::{bail, Context};

use crate::store::{self, Backend, Db};

/// Copies the database into the new file `file` (never over one that exists), checks the copy
/// with SQLite's integrity check, and says its size in bytes.
pub async fn sqlite_copy(db: &Db, file: &std::path::Path) -> anyhow::Result<u64> {
    if db.backend() == Backend::Postgres {
        bail!(
            "pinpanel backup copies SQLite databases; for PostgreSQL use pg_dump, e.g. \
             `pg_dump --format=custom --file=pinpanel.dump \"$DATABASE_URL\"` (restore with \
             `pg_restore --clean --if-exists --dbname=\"$DATABASE_URL\" pinpanel.dump`). Keep \
             the PIN key apart from the dump: it is not in it"
        );
    }
    // The copy holds password hashes and sealed PINs: only its owner may read it. VACUUM INTO
    // fills an empty file, so make that file first, with the mode.
    crate::crypto::create_private_file(file).with_context(|| {
        format!(
            "cannot create {} (a backup never overwrites a file that exists)",
            file.display()
        )
    })?;
    let path = file.to_str().context("the backup path is not UTF-8")?;
    if let Err(e) = store::copy_sqlite_into(&db.pool, path).await {
        let _ = std::fs::remove_file(file);
        return Err(e).context("the copy failed");
    }
    let check = store::integrity_check_of(&db.pool, path).await?;
    if check != "ok" {
        bail!("the copy in {path} failed SQLite's integrity check: {check}");
    }
    Ok(std::fs::metadata(file).map(|m| m.len()).unwrap_or(0))
}
