//! Every value the database keeps sealed with the PIN key, for a key rotation
//! (`service::keys`). A new sealed column belongs in [`SEALED`] (or, for the settings table, is
//! covered already), or a rotation would leave it unreadable; the rotation test reads every
//! sealed value back with the new key.

use sqlx::{AnyConnection, Row};

/// What a sealed column holds (which says what its values are bound to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    /// Support PINs, bound to the member's id.
    Pins,
    /// Authenticator-app secrets, bound to the person's id.
    TotpSecrets,
    /// Parts of queued mail, bound to the message's Message-ID.
    MailParts,
}

/// A column of sealed values, each row named by an integer key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub holds: Holds,
    pub table: &'static str,
    pub key: &'static str,
    pub value: &'static str,
    /// Another column the value is bound to (its associated data), if not the key.
    pub bound_to: Option<&'static str>,
    /// Which rows hold a sealed value.
    pub filter: &'static str,
}

/// The Support PINs.
pub const PINS: Column = Column {
    holds: Holds::Pins,
    table: "support_pins",
    key: "user_id",
    value: "ciphertext",
    bound_to: None,
    filter: "ciphertext IS NOT NULL",
};

/// The authenticator-app secrets.
pub const TOTP: Column = Column {
    holds: Holds::TotpSecrets,
    table: "totp_secrets",
    key: "user_id",
    value: "ciphertext",
    bound_to: None,
    filter: "1 = 1",
};

/// The text part of queued mail that carries a one-time link; emptied once sent.
pub const MAIL_TEXT: Column = Column {
    holds: Holds::MailParts,
    table: "outbox",
    key: "id",
    value: "text_body",
    bound_to: Some("message_id"),
    filter: "sealed = 1 AND LENGTH(text_body) > 0",
};

/// The HTML part of the same messages.
pub const MAIL_HTML: Column = Column {
    holds: Holds::MailParts,
    table: "outbox",
    key: "id",
    value: "html_body",
    bound_to: Some("message_id"),
    filter: "sealed = 1 AND LENGTH(html_body) > 0",
};

/// Every sealed column but the settings table's.
pub const SEALED: [Column; 4] = [PINS, TOTP, MAIL_TEXT, MAIL_HTML];

/// One sealed value: its row's key, what it is bound to (when not the key), the sealed bytes.
#[derive(Debug, sqlx::FromRow)]
pub struct Sealed {
    #[sqlx(rename = "k")]
    pub key: i64,
    #[sqlx(rename = "b")]
    pub bound_to: Option<String>,
    #[sqlx(rename = "v")]
    pub value: Vec<u8>,
}

/// Up to `limit` sealed values of `column` with a key above `after`, in key order.
pub async fn page(
    conn: &mut AnyConnection,
    column: Column,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<Sealed>> {
    let bound = column.bound_to.unwrap_or("CAST(NULL AS TEXT)");
    sqlx::query_as(&format!(
        "SELECT {key} AS k, {bound} AS b, {value} AS v FROM {table} \
         WHERE {key} > $1 AND {filter} ORDER BY {key} LIMIT $2",
        key = column.key,
        value = column.value,
        table = column.table,
        filter = column.filter,
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Replaces the sealed value of row `key` of `column`.
pub async fn put(
    conn: &mut AnyConnection,
    column: Column,
    key: i64,
    value: &[u8],
) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "UPDATE {table} SET {value} = $2 WHERE {key} = $1",
        table = column.table,
        value = column.value,
        key = column.key,
    ))
    .bind(key)
    .bind(value)
    .execute(conn)
    .await?;
    Ok(())
}

/// Every row of the settings table (all sealed: the key check and the sealed keys).
pub async fn settings(conn: &mut AnyConnection) -> sqlx::Result<Vec<(String, Vec<u8>)>> {
    let rows = sqlx::query("SELECT name, value FROM settings ORDER BY name")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("name")?, r.try_get("value")?)))
        .collect()
}

pub async fn put_setting(conn: &mut AnyConnection, name: &str, value: &[u8]) -> sqlx::Result<()> {
    sqlx::query("UPDATE settings SET value = $2 WHERE name = $1")
        .bind(name)
        .bind(value)
        .execute(conn)
        .await?;
    Ok(())
}
