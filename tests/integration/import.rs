//! Importing members from a CSV file (issue 26), on both backends: every bad input refused with
//! its line and nothing written, the command line (dry run, accounts, PINs kept, invitations,
//! a rerun that skips, a `kill -9` and a rerun that completes), the browser (preview, start,
//! progress in the background, one import at a time, a restart that resumes), both ways giving
//! the same members, and the journey in Chromium with and without JavaScript.

use std::process::Stdio;
use std::time::Duration;

use pinpanel::domain::UnlockPolicy;
use pinpanel::startup::ServeSettings;
use sqlx::Row;

use crate::dual;
use crate::helpers::mail::MailServer;
use crate::helpers::wait::eventually;
use crate::helpers::{count, spawn_app, spawn_app_with, test_settings, Backend, Client, TestApp};

dual!(
    bad_files_are_refused_with_each_problem_and_nothing_written,
    the_browser_checks_a_file_then_imports_it_in_the_background,
    the_browser_import_tells_nothing_of_others_and_stays_its_size,
);
dual!(backend:
    the_command_line_checks_imports_and_completes_after_kill_9,
    a_browser_import_resumes_after_a_restart,
    both_ways_import_the_same_file_to_the_same_members,
    importing_in_chromium_with_javascript,
    importing_in_chromium_without_javascript,
);

const HEADER: &str = "account,username,name,email,type,role,external_id,pin";

/// The PIN the test files give member `i`, if any (every third, when it is a valid one).
fn given_pin(i: usize) -> Option<String> {
    let pin = format!("{:06}", 271_828 + i % 1000 * 7);
    (i.is_multiple_of(3) && pinpanel::domain::SupportPin::parse(&pin).is_ok()).then_some(pin)
}

/// Whether a file gives members' PINs (only the command line's import takes them).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pins {
    /// A `pin` column, with every third member's PIN.
    Given,
    /// No `pin` column: every PIN is generated (the browser's import).
    Generated,
}

/// A file of `n` members of account `number` (every tenth a contact, the first an
/// administrator).
fn members_file(number: &str, n: usize, prefix: &str, pins: Pins) -> String {
    let mut out = match pins {
        Pins::Given => HEADER,
        Pins::Generated => HEADER.trim_end_matches(",pin"),
    }
    .to_owned();
    out.push('\n');
    for i in 0..n {
        out.push_str(&format!(
            "{number},{prefix}{i:05},\"Member {i}, {prefix}\",{prefix}{i:05}@example.com,{},{},ext-{prefix}{i}",
            if i % 10 == 0 { "contact" } else { "user" },
            if i == 0 { "admin" } else { "user" },
        ));
        if pins == Pins::Given {
            out.push(',');
            out.push_str(&given_pin(i).unwrap_or_default());
        }
        out.push('\n');
    }
    out
}

/// Runs `pinpanel import members FILE …` on `app`'s database.
async fn cli_import(
    app: &TestApp,
    file: &std::path::Path,
    flags: &[&str],
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let out = cli_command(app, file, flags, env)
        .output()
        .await
        .expect("run pinpanel");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn cli_command(
    app: &TestApp,
    file: &std::path::Path,
    flags: &[&str],
    env: &[(&str, &str)],
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pinpanel"));
    cmd.args(["import", "members"])
        .arg(file)
        .args(flags)
        .env("DATABASE_URL", &app.db.url)
        .env("PINPANEL_KEY", &app.key_hex)
        .env_remove("PINPANEL_KEY_FILE")
        .env_remove("PINPANEL_SMTP_URL")
        .env_remove("PINPANEL_PUBLIC_URL")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn write_file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write the file");
    path
}

async fn bad_files_are_refused_with_each_problem_and_nothing_written(app: TestApp) {
    let acme = app.account("Acme", UnlockPolicy::SelfService).await;
    let other = app.account("Other", UnlockPolicy::SelfService).await;
    app.user(&other, "taken").await;
    let before = count(app.pool(), "SELECT COUNT(*) FROM users").await;
    let dir = tempfile::tempdir().unwrap();
    let n = &acme.number;
    let cases: Vec<(&str, Vec<u8>, Vec<String>)> = vec![
        (
            "png",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0".to_vec(),
            vec!["line 1: the file is not UTF-8 text".into()],
        ),
        (
            "latin1",
            format!("{HEADER}\n{n},zoe,Zo\u{e9},z@example.com,user,user,,\n")
                .replace('\u{e9}', "\u{1}")
                .into_bytes()
                .into_iter()
                .map(|b| if b == 1 { 0xe9 } else { b })
                .collect(),
            vec!["line 2: the file is not UTF-8 text".into()],
        ),
        (
            "no email column",
            format!("account,username,name,type,role\n{n},a,A,user,user\n").into_bytes(),
            vec!["line 1: the column 'email' is missing".into()],
        ),
        (
            "rows",
            format!(
                "{HEADER}\n\
                 {n},ada,Ada,ada@example.com,user,user,,\n\
                 {n},ADA,Ada Again,a2@example.com,user,user,,\n\
                 {n},taken,Someone,t@example.com,user,user,,\n\
                 {n},bob,Bob,x@,user,user,,\n\
                 {n},carol,Carol,c@example.com,user,user,,111123\n\
                 {n},dan,{},d@example.com,user,user,,\n\
                 99999,eve,Eve,e@example.com,user,user,,\n\
                 {n},fay,\"=cmd|' /C calc'!A0\",f@example.com,user,user,,\n",
                "D".repeat(300)
            )
            .into_bytes(),
            vec![
                "line 3: username 'ada' is also on line 2".into(),
                format!(
                    "line 4: username 'taken' is already in account {}",
                    other.number
                ),
                "line 5: e-mail 'x@' is not an address".into(),
                "line 6: the PIN is refused: it has more than three repeating numbers in a row"
                    .into(),
                "line 7: a name has at most 200 characters".into(),
                "line 8: account 99999 does not exist".into(),
            ],
        ),
    ];
    for (what, bytes, wanted) in cases {
        let path = write_file(&dir, "members.csv", &bytes);
        let (code, out, err) = cli_import(&app, &path, &[], &[]).await;
        assert_eq!(code, 1, "{what}: {out}{err}");
        for w in &wanted {
            assert!(out.contains(w.as_str()), "{what}: wanted {w:?} in:\n{out}");
        }
        assert!(err.contains("nothing was written"), "{what}: {err}");
        assert!(!out.contains("111123"), "a PIN is never echoed");
        assert_eq!(
            count(app.pool(), "SELECT COUNT(*) FROM users").await,
            before,
            "{what}"
        );
    }
    // Formula cells are only text: the row imports, the name stored as written.
    let path = write_file(
        &dir,
        "formula.csv",
        format!("{HEADER}\n{n},fay,\"=cmd|' /C calc'!A0\",f@example.com,user,user,,\n").as_bytes(),
    );
    let (code, out, err) = cli_import(&app, &path, &[], &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    let name: String = sqlx::query("SELECT full_name FROM users WHERE username = 'fay'")
        .fetch_one(app.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, "=cmd|' /C calc'!A0");
}

async fn the_command_line_checks_imports_and_completes_after_kill_9(backend: Backend) {
    let Some(smtp) = MailServer::start().await else {
        return;
    };
    let app = spawn_app(backend).await.expect("app");
    let dir = tempfile::tempdir().unwrap();
    let file = members_file("1044", 30, "m", Pins::Given);
    let path = write_file(&dir, "members.csv", file.as_bytes());

    // A dry run writes nothing; without --create-accounts the account is refused.
    let (code, out, _) = cli_import(&app, &path, &["--dry-run", "--create-accounts"], &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("30 members would be created") && out.contains("1 account"),
        "{out}"
    );
    assert_eq!(count(app.pool(), "SELECT COUNT(*) FROM users").await, 0);
    let (code, out, _) = cli_import(&app, &path, &[], &[]).await;
    assert_eq!(code, 1);
    assert!(
        out.contains("account 1044 does not exist (30 rows name it)"),
        "{out}"
    );

    // Imported, with invitations queued for the server to send.
    let mail = [
        ("PINPANEL_SMTP_URL", smtp.url()),
        ("PINPANEL_PUBLIC_URL", "http://localhost:8080".to_owned()),
    ];
    let env: Vec<(&str, &str)> = mail.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, out, err) = cli_import(&app, &path, &["--create-accounts"], &env).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(
            "created 30, skipped 0 (already there), invitations queued 30, accounts created 1"
        ),
        "{out}"
    );
    assert!(
        err.contains("imported 100% (30 of 30 rows)"),
        "a line every 10 %: {err}"
    );
    assert_eq!(
        count(
            app.pool(),
            "SELECT COUNT(*) FROM outbox WHERE kind = 'member.invited'"
        )
        .await,
        30
    );
    let m0 = pinpanel::store::users::by_username(app.pool(), "m00000")
        .await
        .unwrap()
        .unwrap();
    assert!(m0.is_admin());
    assert_eq!(m0.kind, Some(pinpanel::domain::Kind::Contact));
    assert_eq!(app.pin_of(&m0).await, "271828", "the file's PIN is kept");
    let m1 = pinpanel::store::users::by_username(app.pool(), "m00001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.pin_row(&m1).await.0, "ACTIVE", "a generated PIN");
    let ext: Option<String> =
        sqlx::query("SELECT external_id FROM users WHERE username = 'm00001'")
            .fetch_one(app.pool())
            .await
            .unwrap()
            .get(0);
    assert_eq!(ext.as_deref(), Some("ext-m1"));
    assert_eq!(
        count(
            app.pool(),
            "SELECT COUNT(*) FROM audit_log WHERE event = 'import.done'"
        )
        .await,
        1
    );

    // Again: everything is there with the same values, so everything is skipped.
    let (code, out, _) = cli_import(&app, &path, &["--no-invite"], &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("created 0, skipped 30"), "{out}");

    // A bigger file, killed with SIGKILL half-way, then run again: complete, no duplicates.
    let big = members_file("2055", 4000, "k", Pins::Given);
    let path = write_file(&dir, "big.csv", big.as_bytes());
    let mut child = cli_command(&app, &path, &["--create-accounts", "--no-invite"], &[])
        .spawn()
        .expect("start the import");
    let done_before = eventually(
        "the import under way (500 members)",
        Duration::from_secs(120),
        async || {
            let n = count(
                app.pool(),
                "SELECT COUNT(*) FROM users WHERE username LIKE 'k%'",
            )
            .await;
            (n >= 500).then_some(n)
        },
    )
    .await;
    child.start_kill().expect("kill -9");
    let _ = child.wait().await;
    let after_kill = count(
        app.pool(),
        "SELECT COUNT(*) FROM users WHERE username LIKE 'k%'",
    )
    .await;
    assert!(
        after_kill >= done_before && after_kill < 4000,
        "killed half-way: {after_kill}"
    );
    assert_eq!(after_kill % 500, 0, "whole batches only: {after_kill}");
    let (code, out, err) = cli_import(&app, &path, &["--no-invite"], &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "created {}, skipped {after_kill}",
            4000 - after_kill
        )),
        "{out}"
    );
    assert_eq!(
        count(
            app.pool(),
            "SELECT COUNT(*) FROM users WHERE username LIKE 'k%'"
        )
        .await,
        4000
    );
}

/// An administrator's logged-in client at the import page (with its CSRF token).
async fn at_import(app: &TestApp, username: &str) -> Client {
    let c = app.logged_in(username).await;
    let (status, _, _) = c.get("/users/import").await;
    assert_eq!(status, 200);
    c
}

/// Sends `bytes` as the import form does (multipart, with the CSRF token).
async fn upload(c: &Client, bytes: Vec<u8>, invite: bool) -> (u16, String) {
    let res = try_upload(c, bytes, invite).await.expect("upload");
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// [`upload`], the connection's fate as it is: a server that refuses a body too big may answer
/// 413 and close while the client is still sending it (a broken pipe on the client's side).
async fn try_upload(
    c: &Client,
    bytes: Vec<u8>,
    invite: bool,
) -> reqwest::Result<reqwest::Response> {
    let mut form = reqwest::multipart::Form::new().text("csrf_token", c.csrf());
    if invite {
        form = form.text("invite", "on");
    }
    form = form.part(
        "file",
        reqwest::multipart::Part::bytes(bytes)
            .file_name("members.csv")
            .mime_str("text/csv")
            .unwrap(),
    );
    c.http
        .post(c.url("/users/import"))
        .multipart(form)
        .send()
        .await
}

fn start_url(page: &str) -> Option<String> {
    let at = page.find("action=\"/users/import/")?;
    let rest = &page[at + "action=\"".len()..];
    rest.split('"').next().map(str::to_owned)
}

/// Waits until the import at `status_url` is done; its page.
async fn until_done(c: &Client, status_url: &str) -> String {
    eventually("the import done", Duration::from_secs(120), async || {
        let (_, _, page) = c.get(status_url).await;
        if page.contains("Import done") || page.contains("The import stopped") {
            Ok(page)
        } else {
            Err(page)
        }
    })
    .await
}

async fn the_browser_checks_a_file_then_imports_it_in_the_background(app: TestApp) {
    let acme = app.account("Acme", UnlockPolicy::SelfService).await;
    let other = app.account("Other", UnlockPolicy::SelfService).await;
    app.admin(&acme, "root").await;
    app.user(&acme, "alice").await;
    let c = at_import(&app, "root").await;

    // Problems: each with its line, no button to start.
    let bad = format!(
        "username,name,email,type,role,account\nbob,Bob,bob@example.com,user,user,{}\nbob,Bob 2,b2@example.com,user,user,\n",
        other.number
    );
    let (status, page) = upload(&c, bad.into_bytes(), true).await;
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains(&format!("Line 2: account {} is not this one", other.number)),
        "{page}"
    );
    assert!(page.contains("Line 3: username"), "{page}");
    assert!(start_url(&page).is_none());

    // Too big, not an administrator, no CSRF token: refused.
    match try_upload(&c, vec![b'a'; 6 * 1024 * 1024], true).await {
        Ok(res) => assert_eq!(res.status(), 413),
        // Refused and closed before the client finished sending: refused all the same.
        Err(e) => assert!(e.is_request(), "{e}"),
    }
    let alice = at_import(&app, "root").await; // an admin page to read a token from…
    drop(alice);
    let alice = app.logged_in("alice").await;
    let (status, _) = upload(&alice, b"username,name,email,type,role\n".to_vec(), false).await;
    assert_eq!(status, 403);
    let forged = c
        .http
        .post(c.url("/users/import"))
        .multipart(
            reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(b"username,name,email,type,role\n".to_vec())
                    .file_name("x.csv"),
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(count(app.pool(), "SELECT COUNT(*) FROM imports").await, 0);

    // A file with PINs: refused whole (administrators never know a member's PIN; the command
    // line's import brings existing PINs over).
    let with_pins = members_file(&acme.number, 3, "p", Pins::Given);
    let (status, page) = upload(&c, with_pins.into_bytes(), false).await;
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("Line 1: the column &#39;pin&#39; is for the command line only"),
        "{page}"
    );
    assert!(start_url(&page).is_none());

    // A clean file: the preview, then the import in the background, then a summary.
    let file = members_file(&acme.number, 1200, "w", Pins::Generated);
    let (status, page) = upload(&c, file.clone().into_bytes(), false).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Import 1200 members"), "{page}");
    assert!(page.contains("w00000"), "{page}");
    assert!(page.contains("a generated Support PIN"), "{page}");
    let replaced = start_url(&page).expect("a start button");
    // A second preview takes the first one's place: an account keeps one file waiting.
    let (_, page) = upload(&c, file.clone().into_bytes(), false).await;
    let start = start_url(&page).expect("a start button");
    assert_ne!(start, replaced);
    let (status, _, _) = c.post(&replaced, &[]).await;
    assert_eq!(status, 404, "the replaced preview is gone");
    // The file waits sealed with the key: no username is readable in it.
    let sealed: Vec<Vec<u8>> = sqlx::query_scalar("SELECT file FROM imports")
        .fetch_all(app.pool())
        .await
        .unwrap();
    assert_eq!(sealed.len(), 1);
    assert!(!String::from_utf8_lossy(&sealed[0]).contains("w00000"));
    // Another account's administrator can neither start nor see it.
    app.admin(&other, "olga").await;
    let olga = app.logged_in("olga").await;
    let (status, _, _) = olga.post(&start, &[]).await;
    assert_eq!(status, 404, "another account's import");
    let id = start
        .trim_end_matches("/start")
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let (status, _, _) = olga.get(&format!("/users/import/{id}")).await;
    assert_eq!(status, 404);
    let (status, headers, _) = c.post(&start, &[]).await;
    assert_eq!(status, 303);
    let status_url = headers["location"].to_str().unwrap().to_owned();
    // Another file, previewed while the first runs, waits its turn.
    let (_, second) = upload(
        &c,
        members_file(&acme.number, 5, "z", Pins::Generated).into_bytes(),
        false,
    )
    .await;
    let second_start = start_url(&second).expect("a second start button");
    let (status, _, page) = c.post(&second_start, &[]).await;
    assert_eq!(status, 409, "one import at a time: {page}");
    let (_, _, progress) = c.get(&status_url).await;
    assert!(
        progress.contains("Importing") || progress.contains("Import done"),
        "{progress}"
    );
    let (status, _, fragment) = c.hx_get(&status_url).await;
    assert_eq!(status, 200);
    assert!(
        fragment.starts_with("<section"),
        "htmx gets the part: {fragment}"
    );
    let done = until_done(&c, &status_url).await;
    assert!(done.contains("Import done"), "{done}");
    assert!(done.contains("id=\"import-created\">1200<"), "{done}");
    assert_eq!(
        count(
            app.pool(),
            &format!("SELECT COUNT(*) FROM users WHERE account_id = {}", acme.id)
        )
        .await,
        1202
    );
    let (_, _, activity) = c.get("/users/activity").await;
    assert!(
        activity.contains("import.done") && activity.contains("created 1200, skipped 0"),
        "{activity}"
    );
    // The file went with the import.
    assert_eq!(
        count(
            app.pool(),
            "SELECT COUNT(*) FROM imports WHERE file IS NOT NULL AND state = 'done'"
        )
        .await,
        0
    );
}

async fn a_browser_import_resumes_after_a_restart(backend: Backend) {
    let settings = ServeSettings {
        import_lease_secs: 1,
        ..test_settings()
    };
    let app = spawn_app_with(backend, settings.clone())
        .await
        .expect("app");
    let acme = app.account("Acme", UnlockPolicy::SelfService).await;
    app.admin(&acme, "root").await;
    let c = at_import(&app, "root").await;
    let (_, page) = upload(
        &c,
        members_file(&acme.number, 3000, "r", Pins::Generated).into_bytes(),
        false,
    )
    .await;
    let start = start_url(&page).expect("a start button");
    let (status, headers, _) = c.post(&start, &[]).await;
    assert_eq!(status, 303);
    let status_url = headers["location"].to_str().unwrap().to_owned();
    // Stopped half-way: the batch in flight rolls back, the import stays "running".
    eventually(
        "the import under way (500 created)",
        Duration::from_secs(120),
        async || count(app.pool(), "SELECT created FROM imports").await >= 500,
    )
    .await;
    let key = app.key_hex.clone();
    let db = app.stop().await;
    let created: i64 = {
        let pool = crate::helpers::connect(&db.url).await;
        let n = count(&pool, "SELECT created FROM imports").await;
        assert!(n < 3000, "stopped half-way: {n}");
        n
    };
    let app = crate::helpers::start_on(db, key, settings).await;
    let c = app.logged_in("root").await;
    let done = until_done(&c, &status_url).await;
    assert!(
        done.contains("id=\"import-created\">3000<"),
        "resumed to the end ({created} before): {done}"
    );
    assert_eq!(
        count(
            app.pool(),
            "SELECT COUNT(*) FROM users WHERE username LIKE 'r0%'"
        )
        .await,
        3000
    );
}

/// The members of an account as comparable rows (PINs as the file gave them, or "generated").
async fn members_of(app: &TestApp, number: &str, pins: Pins) -> Vec<String> {
    let rows = sqlx::query(
        "SELECT u.username, u.full_name, COALESCE(u.email, ''), u.kind, u.role, \
         COALESCE(u.external_id, ''), p.state FROM users u JOIN accounts a ON a.id = u.account_id \
         JOIN support_pins p ON p.user_id = u.id WHERE a.number = $1 ORDER BY u.username",
    )
    .bind(number)
    .fetch_all(app.pool())
    .await
    .unwrap();
    let mut out = Vec::new();
    for r in rows {
        let username: String = r.get(0);
        let user = pinpanel::store::users::by_username(app.pool(), &username)
            .await
            .unwrap()
            .unwrap();
        let given = match username[1..]
            .parse::<usize>()
            .ok()
            .and_then(given_pin)
            .filter(|_| pins == Pins::Given)
        {
            Some(_) => app.pin_of(&user).await,
            None => "generated".to_owned(),
        };
        out.push(format!(
            "{username}|{}|{}|{}|{}|{}|{}|{given}",
            r.get::<String, _>(1),
            r.get::<String, _>(2),
            r.get::<String, _>(3),
            r.get::<String, _>(4),
            r.get::<String, _>(5),
            r.get::<String, _>(6)
        ));
    }
    out
}

async fn both_ways_import_the_same_file_to_the_same_members(backend: Backend) {
    let one = spawn_app(backend).await.expect("app");
    let two = spawn_app(backend).await.expect("app");
    let a1 = one.account_numbered("Acme", "3077").await;
    let a2 = two.account_numbered("Acme", "3077").await;
    one.admin(&a1, "root").await;
    two.admin(&a2, "root").await;
    let file = members_file("3077", 40, "s", Pins::Generated);
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(&dir, "members.csv", file.as_bytes());
    let (code, out, err) = cli_import(&one, &path, &["--no-invite"], &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    let c = at_import(&two, "root").await;
    let (_, page) = upload(&c, file.into_bytes(), false).await;
    let (_, headers, _) = c.post(&start_url(&page).expect("start"), &[]).await;
    until_done(&c, headers["location"].to_str().unwrap()).await;
    let (m1, m2) = (
        members_of(&one, "3077", Pins::Generated).await,
        members_of(&two, "3077", Pins::Generated).await,
    );
    assert_eq!(m1.len(), 41);
    assert_eq!(m1, m2);
}

async fn importing_in_chromium_with_javascript(backend: Backend) {
    browser_journey(backend, true).await
}

async fn importing_in_chromium_without_javascript(backend: Backend) {
    browser_journey(backend, false).await
}

/// The administrator's journey: Users → Import members → a file with a problem → its preview
/// → the corrected file → Import → progress → the summary → the new members on the Users page.
async fn browser_journey(backend: Backend, javascript: bool) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let Some(b) = crate::helpers::browser::Browser::start(&app, javascript).await else {
        return;
    };
    let acme = app.account("Demo Hosting", UnlockPolicy::SelfService).await;
    app.admin(&acme, "root").await;
    let dir = tempfile::tempdir().unwrap();
    let mut bad = members_file(&acme.number, 8, "b", Pins::Generated);
    bad.push_str(&format!(
        "{},b00002,Twice,t@example.com,user,user,\n",
        acme.number
    ));
    let bad = write_file(&dir, "bad.csv", bad.as_bytes());
    let good = write_file(
        &dir,
        "good.csv",
        members_file(&acme.number, 8, "b", Pins::Generated).as_bytes(),
    );
    let check = |name: &'static str| {
        let b = &b;
        async move {
            if javascript {
                b.check_state(name).await;
            }
        }
    };

    b.login("root").await;
    b.goto("/users").await;
    b.click_named("Import members").await;
    b.wait_text("Send a file").await;
    check("import-upload").await;
    choose_file(&b, &bad).await;
    b.click_named("Check the file").await;
    b.wait_text("The file cannot be imported").await;
    b.wait_text("Line 10: username 'b00002' is also on line 4")
        .await;
    check("import-problems").await;
    choose_file(&b, &good).await;
    b.click_named("Check the file").await;
    b.wait_text("Ready to import").await;
    check("import-preview").await;
    b.click_named("Import 8 members").await;
    b.wait_text("Import done").await;
    check("import-done").await;
    b.click_named("See the members").await;
    b.wait_text("Member 7, b").await;
}

/// Chooses `path` in the page's file input (as a person picking it in the dialog).
async fn choose_file(b: &crate::helpers::browser::Browser, path: &std::path::Path) {
    b.c.wait()
        .for_element(fantoccini::Locator::Css("#import-file"))
        .await
        .expect("the file input")
        .send_keys(path.to_str().expect("a path"))
        .await
        .expect("choose the file");
}

/// Issue 36's findings on the browser's import: what its preview told an administrator (another
/// account's number, which names are agents'), how big its page and the server's memory grew
/// with a file wrong on every line, the line numbers of a file saved by Excel, the file size the
/// form really took, and a multipart body read before anyone's CSRF token.
async fn the_browser_import_tells_nothing_of_others_and_stays_its_size(app: TestApp) {
    let acme = app.account("Acme", UnlockPolicy::SelfService).await;
    let other = app.account("Other", UnlockPolicy::SelfService).await;
    app.admin(&acme, "root").await;
    app.user(&other, "bob").await;
    app.agent("desk").await;
    let c = at_import(&app, "root").await;

    // Names taken elsewhere: taken, and nothing about whose.
    let file = "username,name,email,type,role\n\
                bob,Bob,b@example.com,user,user\n\
                desk,Desk,d@example.com,user,user\n";
    let (status, page) = upload(&c, file.as_bytes().to_vec(), false).await;
    assert_eq!(status, 422, "{page}");
    for (line, name) in [(2, "bob"), (3, "desk")] {
        assert!(
            page.contains(&format!(
                "Line {line}: username &#39;{name}&#39; is taken by someone outside this account"
            )),
            "{page}"
        );
    }
    assert!(!page.contains(&other.number), "{page}");
    assert!(!page.contains("agent"), "{page}");

    // Excel's line endings: each problem names the line it is on in the file, as the preview's
    // own table numbers its rows.
    let crlf = "username,name,email,type,role\r\nann,Ann,a@example.com,user,user\r\n\
                bea,Bea,x@,user,user\r\n";
    let (_, page) = upload(&c, crlf.as_bytes().to_vec(), false).await;
    assert!(
        page.contains("Line 3: e-mail &#39;x@&#39; is not an address"),
        "{page}"
    );

    // A file wrong on every line: the first problems, and how many more; a page of its own size.
    let mut wrong = String::from("username,name,email,type,role\n");
    for i in 0..5000 {
        wrong.push_str(&format!("u{i},Name {i},not-an-address-{i},user,user\n"));
    }
    let (status, page) = upload(&c, wrong.into_bytes(), false).await;
    assert_eq!(status, 422);
    assert_eq!(page.matches("<li>Line ").count(), 100, "the first 100");
    assert!(page.contains("these 5000 problems"), "{page}");
    assert!(page.contains("… and 4900 more."), "{page}");
    assert!(page.contains("Line 2: e-mail") && page.contains("Line 101: e-mail"));
    assert!(page.len() < 64 * 1024, "{} bytes", page.len());

    // A 3 MiB file is read whole (axum's own 2 MiB limit once cut it short: "expired").
    let mut big = String::from("username,name,email,type,role\n");
    let mut i = 0;
    while big.len() < 3 * 1024 * 1024 {
        big.push_str(&format!(
            "big{i:06},Member number {i:06},big{i:06}@example.com,user,user\n"
        ));
        i += 1;
    }
    let (status, page) = upload(&c, big.into_bytes(), false).await;
    assert_eq!(status, 200, "{}", &page[..page.len().min(2000)]);
    assert!(page.contains(&format!("Import {i} members")), "{i}");

    // A file upload anywhere else, or from someone logged out, is refused before its body is
    // read: the answer comes while the client is still sending (it never finishes here).
    let endless = || {
        let chunk = axum::body::Bytes::from(vec![b'x'; 64 * 1024]);
        let stream = futures_util::stream::unfold(0u64, move |n| {
            let chunk = chunk.clone();
            async move {
                if n > 0 {
                    // After the first chunk the client stalls (a slow sender).
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                Some((Ok::<_, std::io::Error>(chunk), n + 1))
            }
        });
        reqwest::Body::wrap_stream(stream)
    };
    let anonymous = app.client();
    let (status, _, _) = anonymous.get("/login").await;
    assert_eq!(status, 200);
    for (who, path, wanted) in [
        (&anonymous, "/login", 422),
        (&anonymous, "/users/import", 403),
        (&c, "/profile/password", 422),
    ] {
        let res = tokio::time::timeout(
            Duration::from_secs(20),
            who.http
                .post(who.url(path))
                .header("content-type", "multipart/form-data; boundary=xyz")
                .body(endless())
                .send(),
        )
        .await
        .unwrap_or_else(|_| panic!("{path}: no answer while the body was still coming"))
        .expect("an answer");
        assert_eq!(res.status().as_u16(), wanted, "{path}");
    }
    assert_eq!(count(app.pool(), "SELECT COUNT(*) FROM imports").await, 1);
}
