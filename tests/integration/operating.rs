//! Operating pinpanel (docs/OPERATING.md): metrics on their own address, online backup, JSON
//! logs, readiness. Rotating the key has its own file, `key_rotation`.

use std::process::{Command, Stdio};
use std::time::Duration;

use pinpanel::crypto::PinKey;
use pinpanel::domain::UnlockPolicy;
use pinpanel::service::pins;
use pinpanel::startup::{self, ServeSettings};
use pinpanel::store::DbOptions;

use crate::dual;
use crate::helpers::process::pinpanel_args;
use crate::helpers::process::Server;
use crate::helpers::wait::eventually;
use crate::helpers::{key_source, spawn_app_with, test_settings, Backend, TestApp, TestDb};

dual!(
    readiness_checks_the_database_and_the_mail_worker,
    backup_copies_the_live_database_or_points_at_pg_dump,
);
dual!(
    backend: metrics_count_what_happens_and_name_no_one,
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
    let opened = startup::open(&copy, &key_source(&app.key_hex), &DbOptions::default())
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
