//! Operating pinpanel (docs/OPERATING.md): metrics on their own address, key rotation, online
//! backup, JSON logs, readiness.

use std::process::{Command, Stdio};
use std::time::Duration;

use pinpanel::crypto::{Bound, KeySource, PinCipher, PinKey};
use pinpanel::domain::UnlockPolicy;
use pinpanel::service::{links, pins, two_step};
use pinpanel::startup::{self, ServeSettings};
use pinpanel::store::{rekey, DbOptions};

use crate::dual;
use crate::helpers::process::pinpanel_args;
use crate::helpers::process::Server;
use crate::helpers::two_step::now;
use crate::helpers::two_step::totp_code;
use crate::helpers::wait::eventually;
use crate::helpers::{spawn_app_with, test_settings, Backend, TestApp, TestDb, PASSWORD};

dual!(
    readiness_checks_the_database_and_the_mail_worker,
    backup_copies_the_live_database_or_points_at_pg_dump,
);
dual!(backend:
    metrics_count_what_happens_and_name_no_one,
    rotating_the_key_seals_everything_again,
    an_interrupted_rotation_leaves_the_old_key,
    a_rotation_killed_midway_leaves_one_key,
);

/// The value of the series `series` (name and labels, exactly as exposed) in `text`.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

async fn scrape(app: &TestApp) -> (u16, String, String) {
    let addr = app.metrics_addr.expect("metrics are on");
    let r = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    let status = r.status().as_u16();
    let kind = r.headers()["content-type"].to_str().unwrap().to_owned();
    (status, kind, r.text().await.unwrap())
}

/// `promtool check metrics` on `text`; `None` (after saying so) when promtool is not installed,
/// unless `PINPANEL_REQUIRE_PROMTOOL=1`.
fn promtool(text: &str) -> Option<(bool, String)> {
    use std::io::Write;
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(_) if std::env::var("PINPANEL_REQUIRE_PROMTOOL").as_deref() != Ok("1") => {
            eprintln!("skipping promtool: install Debian's prometheus package to run it");
            return None;
        }
        Err(e) => panic!("PINPANEL_REQUIRE_PROMTOOL=1 but promtool cannot run: {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), said))
}

async fn metrics_count_what_happens_and_name_no_one(backend: Backend) {
    let settings = ServeSettings {
        metrics_addr: Some("127.0.0.1:0".parse().unwrap()),
        ..test_settings()
    };
    let Some(app) = spawn_app_with(backend, settings).await else {
        return;
    };
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let admin = app.admin(&acct, "olga").await;
    app.agent("sam").await;

    // Logins: one right, one wrong (web); one right (API, the agent's token).
    app.logged_in("alice").await;
    app.client().login("alice", "not the password at all").await;
    let token = app.token("sam").await;
    // Verifications over the API: one right, six wrong (the sixth locks), one on the lock.
    let verify = |pin: String| {
        let url = app.url(&format!(
            "/v2.0/users/{}/RAX-AUTH/phone-pin/verify",
            alice.id
        ));
        let token = token.clone();
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .header("X-Auth-Token", token)
                .json(&serde_json::json!({"RAX-AUTH:phonePin": {"pin": pin}}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
        }
    };
    verify(app.pin_of(&alice).await).await;
    let wrong = app.wrong_pin_for(&alice).await;
    for _ in 0..6 {
        verify(wrong.clone()).await;
    }
    verify(wrong.clone()).await;
    pins::unlock(&app.ctx, &admin, &alice).await.unwrap();
    // A refused request: the public address has no /metrics.
    let (status, _, _) = app.client().get("/metrics").await;
    assert_eq!(status, 404, "metrics are never on the public address");

    let (status, kind, text) = scrape(&app).await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    let expect = [
        ("pinpanel_logins_total{outcome=\"success\"}", 2.0),
        ("pinpanel_logins_total{outcome=\"failure\"}", 1.0),
        ("pinpanel_pin_verifications_total{outcome=\"verified\"}", 1.0),
        ("pinpanel_pin_verifications_total{outcome=\"incorrect\"}", 6.0),
        ("pinpanel_pin_verifications_total{outcome=\"locked\"}", 1.0),
        ("pinpanel_pin_locks_total", 1.0),
        ("pinpanel_pin_unlocks_total", 1.0),
        (
            "pinpanel_http_requests_total{route=\"/v2.0/users/{user_id}/RAX-AUTH/phone-pin/verify\",method=\"POST\",status=\"200\"}",
            8.0,
        ),
        (
            "pinpanel_http_request_duration_seconds_count{route=\"/v2.0/users/{user_id}/RAX-AUTH/phone-pin/verify\",method=\"POST\"}",
            8.0,
        ),
        (
            "pinpanel_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}",
            1.0,
        ),
        (
            &format!(
                "pinpanel_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            ),
            1.0,
        ),
    ];
    for (series, want) in expect {
        assert_eq!(value(&text, series), Some(want), "{series} in\n{text}");
    }
    assert!(value(&text, "pinpanel_db_connections_in_use").is_some());
    // The lock and the unlock each mailed the member (the outbox waits: no SMTP here).
    assert!(
        value(&text, "pinpanel_mail_outbox_depth").unwrap() >= 2.0,
        "{text}"
    );
    // No label names anyone: no username, no id, no address.
    let labels: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| Some(&l[l.find('{')?..l.rfind('}')?]))
        .collect();
    assert!(!labels.is_empty());
    for needle in [
        "alice".to_owned(),
        "sam".to_owned(),
        "127.0.0.1".to_owned(),
        format!("/{}/", alice.id),
    ] {
        assert!(
            labels.iter().all(|l| !l.contains(&needle)),
            "a label holds {needle}: {labels:?}"
        );
    }
    if let Some((ok, said)) = promtool(&text) {
        assert!(ok, "promtool check metrics: {said}\n{text}");
    }
}

async fn readiness_checks_the_database_and_the_mail_worker(app: TestApp) {
    let (status, _, body) = app.client().get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("database: ok"), "{body}");
    assert!(body.contains("mail: not configured"), "{body}");
    // The demo's delivery to the log runs a worker: it is checked.
    let settings = ServeSettings {
        delivery: pinpanel::service::mail::Delivery::Log,
        ..test_settings()
    };
    let Some(logging) = spawn_app_with(app.db.backend, settings).await else {
        return;
    };
    eventually(
        "ready with the mail worker running",
        Duration::from_secs(20),
        async || {
            let (status, _, body) = logging.client().get("/readyz").await;
            if status == 200 && body.contains("mail: running") {
                Ok(())
            } else {
                Err(format!("{status} {body}"))
            }
        },
    )
    .await;
    // Health stays the cheap liveness check.
    assert_eq!(app.client().get("/healthz").await.0, 200);
}

fn keys(hex: &str) -> KeySource {
    KeySource {
        key: Some(hex.to_owned()),
        key_file: None,
    }
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
    let refused = startup::open(&url, &keys(&old), &DbOptions::default())
        .await
        .err()
        .expect("the old key is refused");
    assert!(format!("{refused:#}").contains("rotated"), "{refused:#}");
    // The new key opens everything: the same PINs, the authenticator app, a recovery code,
    // the sealed mail.
    let opened = startup::open(&url, &keys(&new), &DbOptions::default())
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
    assert!(startup::open(&url, &keys(&new), &DbOptions::default())
        .await
        .is_err());
    let opened = startup::open(&url, &keys(&old), &DbOptions::default())
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
    let with_old = startup::open(&db.url, &keys(&old), &DbOptions::default()).await;
    let with_new = startup::open(&db.url, &keys(&new), &DbOptions::default()).await;
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

async fn backup_copies_the_live_database_or_points_at_pg_dump(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.db");
    if app.db.backend == Backend::Postgres {
        let (code, out, err) = pinpanel_args(
            &app.db.url,
            Some(&app.key_hex),
            &["backup", file.to_str().unwrap()],
            "",
        )
        .parts();
        assert_eq!(code, 1, "{out}{err}");
        assert!(err.contains("pg_dump"), "{err}");
        assert!(!file.exists());
        return;
    }
    let acct = app.account("Acme", UnlockPolicy::SelfService).await;
    let alice = app.user(&acct, "alice").await;
    let agent = app.agent("sam").await;
    let pin = app.pin_of(&alice).await;
    // Verifications keep writing while the copy is made.
    let busy = {
        let (ctx, agent, alice, pin) = (app.ctx.clone(), agent.clone(), alice.clone(), pin.clone());
        tokio::spawn(async move {
            let mut n = 0;
            loop {
                match pins::verify(&ctx, &agent, &alice, &pin, None).await {
                    Ok(_) => n += 1,
                    Err(_) => return n,
                }
            }
        })
    };
    let (url, key) = (app.db.url.clone(), app.key_hex.clone());
    let out = tokio::task::spawn_blocking(move || {
        pinpanel_args(&url, Some(&key), &["backup", file.to_str().unwrap()], "").parts()
    })
    .await
    .unwrap();
    let (code, stdout, err) = out;
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(stdout.contains("restore"), "{stdout}");
    assert!(
        stdout.contains("key"),
        "says the key is not in the backup: {stdout}"
    );
    busy.abort();
    let file = dir.path().join("backup.db");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the copy holds password hashes");
    // The copy is a whole database: it passes SQLite's check, and opens with the same key to
    // the same PIN.
    let copy = format!("sqlite:{}", file.display());
    let opened = startup::open(&copy, &keys(&app.key_hex), &DbOptions::default())
        .await
        .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&opened.ctx.db.pool)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let shown = pins::show(&opened.ctx, &alice, &alice, &crate::helpers::fresh(&alice))
        .await
        .unwrap();
    assert_eq!(shown.expose(), pin);
    // A file that exists is never overwritten.
    let (code, _, err) = pinpanel_args(
        &app.db.url,
        Some(&app.key_hex),
        &["backup", file.to_str().unwrap()],
        "",
    )
    .parts();
    assert_ne!(code, 0);
    assert!(err.contains("exists"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_with_the_request_id() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let key = PinKey::generate().to_hex();
    let mut server =
        // One line per request comes from tower_http, at debug.
        Server::start_with(&db.url, &key, "info,tower_http=debug", &[("PINPANEL_LOG_FORMAT", "json")]).await;
    let r = reqwest::get(server.url("/login")).await.unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    server.stop().await;
    let log = server.log_text();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() >= 3, "{log}");
    for l in &lines {
        for field in ["timestamp", "level", "target", "message"] {
            assert!(l.get(field).is_some(), "no {field} in {l}");
        }
    }
    let served = lines
        .iter()
        .find(|l| l["span"]["request_id"] == id.as_str())
        .unwrap_or_else(|| panic!("no line with the request id {id}: {log}"));
    assert_eq!(served["span"]["path"], "/login");
}
