//! Opening an installation: the database (migrations applied), the PIN key checked against it,
//! and the keys derived from or sealed with it. What the command line and the server share.

use anyhow::Context;

use crate::crypto::{KeyOrigin, KeySource, PinCipher, KEY_CHECK_NAME};
use crate::domain::Event;
use crate::service::{self, Ctx, Keys};
use crate::store::{self, Db, DbOptions};

/// An opened installation: a use-case context with the default settings (what the command
/// line runs with; `serve` builds its own from the same parts) and the key that signs CSRF
/// tokens.
pub struct Opened {
    pub ctx: Ctx,
    pub csrf_key: [u8; 32],
}

/// Connects to the database alone: no migrations, no key (what `migrate` and `backup` need).
pub async fn connect(database_url: &str, options: &DbOptions) -> anyhow::Result<Db> {
    Db::connect(database_url, options).await
}

/// Opens the database, applies migrations, loads the PIN key and checks it against the
/// database. Everything the CLI and the server share.
pub async fn open(
    database_url: &str,
    keys: &KeySource,
    options: &DbOptions,
) -> anyhow::Result<Opened> {
    let db = Db::connect(database_url, options).await?;
    db.migrate().await?;
    let may_create = store::settings::get(&db.pool, KEY_CHECK_NAME)
        .await
        .context("cannot read the settings table")?
        .is_none();
    let sqlite_file = store::sqlite_path(database_url);
    let (key, origin) = keys.load(sqlite_file.as_deref(), may_create)?;
    match &origin {
        KeyOrigin::Created(path) => {
            tracing::info!(path = %path.display(), "created a new PIN key file (mode 0600): back it up")
        }
        KeyOrigin::File(path) => tracing::debug!(path = %path.display(), "PIN key from file"),
        KeyOrigin::Environment => tracing::debug!("PIN key from PINPANEL_KEY"),
    }
    let cipher = PinCipher::new(&key);
    // The first start stores the key check; every later one must be able to open it.
    let stored = store::settings::get_or_insert(&db.pool, KEY_CHECK_NAME, &cipher.seal_key_check())
        .await
        .context("cannot read the key check from the database")?;
    if !cipher.opens_key_check(&stored) {
        if let Some(at) = store::audit::last_of(&db.pool, Event::KeyRotated).await? {
            anyhow::bail!(
                "the PIN key is not this database's key: the key was rotated ({}); start \
                 with the new key (PINPANEL_KEY / PINPANEL_KEY_FILE)",
                crate::domain::time::format_time(at)
            );
        }
        anyhow::bail!(
            "the PIN key does not match the key this database was set up with \
             (check PINPANEL_KEY / PINPANEL_KEY_FILE)"
        );
    }
    let recovery = sealed_key(&db, &cipher, RECOVERY_KEY_NAME).await?;
    // Not derived from the PIN key itself: an instance still running with the old key after a
    // rotation keeps the same throttle counters and CSRF tokens as the ones started with the new.
    let derivation = sealed_key(&db, &cipher, DERIVATION_KEY_NAME).await?;
    let keys = Keys {
        throttle: crate::crypto::derive_key(&derivation, "throttle"),
        recovery,
        check: stored,
    };
    let ctx = Ctx::new(
        db,
        cipher,
        keys,
        service::Settings::default(),
        service::Instance::default(),
    )?;
    Ok(Opened {
        ctx,
        csrf_key: crate::crypto::derive_key(&derivation, "csrf"),
    })
}

impl Opened {
    /// The context of an instance with `settings` (and its limits, metrics and hashing line),
    /// made from the same database, cipher and keys.
    pub fn context(
        &self,
        settings: service::Settings,
        instance: service::Instance,
    ) -> anyhow::Result<Ctx> {
        Ctx::new(
            self.ctx.db.clone(),
            (*self.ctx.cipher).clone(),
            (*self.ctx.keys).clone(),
            settings,
            instance,
        )
    }
}

/// The settings row of the key that HMACs recovery codes.
pub const RECOVERY_KEY_NAME: &str = "recovery_key";
/// The settings row of the secret the throttle's and the CSRF tokens' keys are derived from.
pub const DERIVATION_KEY_NAME: &str = "derivation_key";

/// A random key kept in the settings table sealed with the PIN key, made on first use (two
/// instances starting at once agree on one).
async fn sealed_key(db: &Db, cipher: &PinCipher, name: &str) -> anyhow::Result<[u8; 32]> {
    let sealed = cipher.seal_setting(name, &crate::crypto::random_key());
    let stored = store::settings::get_or_insert(&db.pool, name, &sealed)
        .await
        .with_context(|| format!("cannot read the {name} from the database"))?;
    let opened = cipher.open_setting(name, &stored).map_err(|_| {
        anyhow::anyhow!("the {name} in the database does not open with the PIN key")
    })?;
    <[u8; 32]>::try_from(opened.as_slice())
        .map_err(|_| anyhow::anyhow!("the {name} in the database is not 32 bytes"))
}
