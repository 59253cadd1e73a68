//! Rotating the PIN key (docs/OPERATING.md): everything sealed again, an interrupted or killed
//! rotation leaving one key, and an instance still running with the old key refused to seal.

use std::process::{Command, Stdio};

use pinpanel::crypto::{Bound, KeySource, PinCipher, PinKey};
use pinpanel::domain::{Kind, Role, UnlockPolicy};
use pinpanel::service::{keys, links, members, people, pins, two_step, Actor, ServiceError};
use pinpanel::startup;
use pinpanel::store::{rekey, DbOptions};
use secrecy::SecretString;

use crate::dual;
use crate::helpers::process::pinpanel_args;
use crate::helpers::two_step::{now, totp_code};
use crate::helpers::{
    fresh, key_source, spawn_app_with, test_settings, Backend, Client, TestApp, TestDb, PASSWORD,
};

dual!(a_seal_after_a_key_rotation_is_refused_and_nothing_is_lost);

dual!(
    backend: rotating_the_key_seals_everything_again,
    an_interrupted_rotation_leaves_the_old_key,
    a_rotation_killed_midway_leaves_one_key,
);

async fn a_seal_after_a_key_rotation_is_refused_and_nothing_is_lost(app: TestApp) {
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let ada = app.admin(&acct, "ada").await;
    let alice = app.user(&acct, "alice").await;
    let pin = app.pin_of(&alice).await;
    let web = app.logged_in("alice").await;
    // The operator rotates the key while this instance still runs with the old one.
    let old = PinCipher::new(&PinKey::parse(&app.key_hex).unwrap());
    let new_key = PinKey::generate();
    keys::rotate(&app.ctx.db, &old, &PinCipher::new(&new_key))
        .await
        .unwrap();
    // Every seal with the old key is refused, with the rotation named, and nothing is written.
    let (status, _, page) = web.post("/profile/support-pin", &[("pin", "871694")]).await;
    assert_eq!(status, 503, "{page}");
    assert!(page.contains("new key"), "{page}");
    let err = pins::change(&app.ctx, &alice, &alice, &fresh(&alice), "871694")
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::KeyRotated), "{err}");
    assert!(err.to_string().contains("rotated"), "{err}");
    let err = pins::reset(&app.ctx, Actor::User(&ada), &alice, false)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::KeyRotated), "{err}");
    let err = members::create_person(
        &app.ctx,
        Actor::Cli,
        members::NewPerson {
            account: Some(acct.clone()),
            username: "carl".into(),
            full_name: "Carl".into(),
            email: None,
            role: Role::User,
            kind: Kind::User,
            password: SecretString::from(PASSWORD),
            with_pin: true,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ServiceError::KeyRotated), "{err}");
    assert!(people::user_by_username(&app.ctx, "carl").await.is_err());
    // With the new key every PIN reads as it was.
    let keys = KeySource {
        key: Some(new_key.to_hex()),
        key_file: None,
    };
    let opened = startup::open(&app.db.url, &keys, &DbOptions::default())
        .await
        .unwrap();
    let shown = pins::show(&opened.ctx, &alice, &alice, &fresh(&alice))
        .await
        .unwrap();
    assert_eq!(shown.expose(), pin);

    // An instance started with the new key takes the forms and counts the throttle counters of
    // the one still running with the old key (issue 36: both were derived from the PIN key, so
    // counters split until the old one restarted).
    let newer = crate::helpers::spawn_instance_with_key(&app, new_key.to_hex()).await;
    let csrf = web.csrf();
    let res = web
        .http
        .post(format!("http://{}/profile/sessions/end-others", newer.addr))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_ne!(
        res.status(),
        403,
        "the old instance's form is taken by the new one"
    );
    let limit = app.ctx.limits.login_per_user_address.max;
    for _ in 0..limit {
        assert_eq!(
            app.client()
                .login("alice", "wrong password!")
                .await
                .status(),
            401
        );
    }
    let at_newer = Client::new(&newer, reqwest::header::HeaderMap::new());
    assert_eq!(
        at_newer.login("alice", "wrong password!").await.status(),
        429,
        "the counter the old instance spent refuses at the new one"
    );
}

/// Does every value sealed in the database open with `cipher`?
async fn all_sealed_open_with(pool: &sqlx::AnyPool, cipher: &PinCipher) -> usize {
    let mut conn = pool.acquire().await.unwrap();
    let mut n = 0;
    for column in rekey::SEALED {
        for row in rekey::page(&mut conn, column, i64::MIN, i64::MAX)
            .await
            .unwrap()
        {
            let bound = match column.holds {
                rekey::Holds::Pins => Bound::Pin(row.key),
                rekey::Holds::TotpSecrets => Bound::Secret(two_step::TOTP_PURPOSE, row.key),
                rekey::Holds::MailParts => Bound::Setting(row.bound_to.as_deref().unwrap()),
            };
            assert!(
                cipher.reseal(cipher, bound, &row.value).is_ok(),
                "{}.{} of row {} does not open",
                column.table,
                column.value,
                row.key
            );
            n += 1;
        }
    }
    for (name, value) in rekey::settings(&mut conn).await.unwrap() {
        let bound = if name == pinpanel::crypto::KEY_CHECK_NAME {
            Bound::KeyCheck
        } else {
            Bound::Setting(&name)
        };
        assert!(
            cipher.reseal(cipher, bound, &value).is_ok(),
            "setting {name}"
        );
        n += 1;
    }
    n
}

/// A key file (mode 0600) in `dir` holding a fresh key.
fn new_key_file(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    use std::os::unix::fs::OpenOptionsExt;
    let key = PinKey::generate().to_hex();
    let path = dir.join("new.key");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, key.as_bytes()).unwrap();
    (path, key)
}

async fn rotating_the_key_seals_everything_again(backend: Backend) {
    let Some(app) = spawn_app_with(backend, test_settings()).await else {
        return;
    };
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let bob = app.user(&acct, "bob").await;
    let pins_before = (app.pin_of(&alice).await, app.pin_of(&bob).await);
    // An authenticator app and recovery codes for alice, a password link in the outbox for bob.
    let setup = two_step::totp::begin_totp(&app.ctx, &alice, &crate::helpers::fresh(&alice))
        .await
        .unwrap();
    let codes = two_step::totp::confirm_totp(
        &app.ctx,
        &alice,
        &crate::helpers::fresh(&alice),
        &totp_code(&setup.secret, now()),
    )
    .await
    .unwrap()
    .expect("recovery codes");
    links::request_password_link(&app.ctx, "bob", "192.0.2.1")
        .await
        .unwrap();
    let old = app.key_hex.clone();
    let url = app.db.url.clone();
    let _db = app.stop().await; // every instance stops before a rotation

    let dir = tempfile::tempdir().unwrap();
    // A new key file that does not exist yet is made (mode 0600).
    let path = dir.path().join("made.key");
    let (code, out, err) = pinpanel_args(
        &url,
        Some(&old),
        &["key", "rotate", "--new-key-file", path.to_str().unwrap()],
        "",
    )
    .parts();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 PINs"), "{out}");
    assert!(out.contains("1 two-step secret"), "{out}");
    assert!(out.contains("2 mail parts"), "{out}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let new = std::fs::read_to_string(&path).unwrap().trim().to_owned();

    // The old key is refused, and says why.
    let refused = startup::open(&url, &key_source(&old), &DbOptions::default())
        .await
        .err()
        .expect("the old key is refused");
    assert!(format!("{refused:#}").contains("rotated"), "{refused:#}");
    // The new key opens everything: the same PINs, the authenticator app, a recovery code,
    // the sealed mail.
    let opened = startup::open(&url, &key_source(&new), &DbOptions::default())
        .await
        .unwrap();
    let ctx = &opened.ctx;
    assert!(all_sealed_open_with(&ctx.db.pool, &ctx.cipher).await >= 6);
    let old_cipher = PinCipher::new(&PinKey::parse(&old).unwrap());
    let pool = &ctx.db.pool;
    assert_eq!(
        all_sealed_by(pool, &old_cipher).await,
        0,
        "nothing opens with the old key"
    );
    let shown = |u| async move {
        pins::show(ctx, &u, &u, &crate::helpers::fresh(&u))
            .await
            .unwrap()
            .expose()
            .to_owned()
    };
    assert_eq!(
        (shown(alice.clone()).await, shown(bob.clone()).await),
        pins_before
    );
    assert!(matches!(
        two_step::check_code(
            ctx,
            &alice,
            &totp_code(&setup.secret, now() + 30),
            "192.0.2.1"
        )
        .await
        .unwrap(),
        two_step::Used::AuthenticatorApp
    ));
    assert!(matches!(
        two_step::check_code(ctx, &alice, &codes[0], "192.0.2.1")
            .await
            .unwrap(),
        two_step::Used::RecoveryCode { left: 9 }
    ));
    // Rotating to the key in use is refused.
    let (code, _, err) = pinpanel_args(
        &url,
        Some(&new),
        &["key", "rotate", "--new-key-file", path.to_str().unwrap()],
        "",
    )
    .parts();
    assert_ne!(code, 0);
    assert!(err.contains("already uses"), "{err}");
}

/// How many sealed values open with `cipher`.
async fn all_sealed_by(pool: &sqlx::AnyPool, cipher: &PinCipher) -> usize {
    let mut conn = pool.acquire().await.unwrap();
    let mut n = 0;
    for column in [rekey::PINS, rekey::TOTP] {
        for row in rekey::page(&mut conn, column, i64::MIN, i64::MAX)
            .await
            .unwrap()
        {
            let bound = match column.holds {
                rekey::Holds::Pins => Bound::Pin(row.key),
                _ => Bound::Secret(two_step::TOTP_PURPOSE, row.key),
            };
            n += usize::from(cipher.reseal(cipher, bound, &row.value).is_ok());
        }
    }
    n
}

async fn an_interrupted_rotation_leaves_the_old_key(backend: Backend) {
    let Some(app) = spawn_app_with(backend, test_settings()).await else {
        return;
    };
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let bob = app.user(&acct, "bob").await;
    let alice_pin = app.pin_of(&alice).await;
    // Bob's PIN is damaged: it opens with no key, so the rotation cannot finish.
    sqlx::query("UPDATE support_pins SET ciphertext = $1 WHERE user_id = $2")
        .bind(vec![7u8; 60])
        .bind(bob.id)
        .execute(app.pool())
        .await
        .unwrap();
    let (url, old) = (app.db.url.clone(), app.key_hex.clone());
    let _db = app.stop().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, new) = new_key_file(dir.path());
    let (code, out, err) = pinpanel_args(
        &url,
        Some(&old),
        &["key", "rotate", "--new-key-file", path.to_str().unwrap()],
        "",
    )
    .parts();
    assert_ne!(code, 0, "{out}");
    assert!(err.contains(&format!("row {}", bob.id)), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    // The old key still opens the database and alice's PIN; the new one is refused.
    assert!(
        startup::open(&url, &key_source(&new), &DbOptions::default())
            .await
            .is_err()
    );
    let opened = startup::open(&url, &key_source(&old), &DbOptions::default())
        .await
        .unwrap();
    let shown = pins::show(&opened.ctx, &alice, &alice, &crate::helpers::fresh(&alice))
        .await
        .unwrap();
    assert_eq!(shown.expose(), alice_pin);
}

async fn a_rotation_killed_midway_leaves_one_key(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let old = PinKey::generate().to_hex();
    let dir = tempfile::tempdir().unwrap();
    let members = dir.path().join("members.txt");
    let seed = Command::new(env!("CARGO_BIN_EXE_pinpanel"))
        .args([
            "bench",
            "seed",
            "--members",
            "20000",
            "--agents",
            "1",
            "--password-stdin",
        ])
        .arg("--out")
        .arg(&members)
        .env("DATABASE_URL", &db.url)
        .env("PINPANEL_KEY", &old)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .and_then(|mut c| {
            std::io::Write::write_all(&mut c.stdin.take().unwrap(), PASSWORD.as_bytes())?;
            c.wait()
        })
        .unwrap();
    assert!(seed.success());
    let (path, new) = new_key_file(dir.path());
    // Killed as soon as it says it has begun.
    let mut child = Command::new(env!("CARGO_BIN_EXE_pinpanel"))
        .args(["key", "rotate", "--new-key-file", path.to_str().unwrap()])
        .env("DATABASE_URL", &db.url)
        .env("PINPANEL_KEY", &old)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.contains("sealing"), "{line}");
    // Exactly one key opens the database, and every PIN opens with it.
    let with_old = startup::open(&db.url, &key_source(&old), &DbOptions::default()).await;
    let with_new = startup::open(&db.url, &key_source(&new), &DbOptions::default()).await;
    let opened = match (with_old, with_new) {
        (Ok(o), Err(_)) | (Err(_), Ok(o)) => o,
        (Ok(_), Ok(_)) => panic!("both keys open the database"),
        (Err(a), Err(b)) => panic!("neither key opens the database: {a:#} / {b:#}"),
    };
    let sealed: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM support_pins WHERE ciphertext IS NOT NULL")
            .fetch_one(&opened.ctx.db.pool)
            .await
            .unwrap();
    assert!(sealed >= 20000);
    assert_eq!(
        all_sealed_by(&opened.ctx.db.pool, &opened.ctx.cipher).await as i64,
        sealed
    );
}
