//! The command line, run as the real binary against SQLite and PostgreSQL.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::helpers::{Backend, TestDb};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn last_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or_default()
    }
}

fn pinpanel(db: &TestDb, key: Option<&str>, args: &[&str], stdin: &str) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pinpanel"));
    cmd.args(args)
        .env("DATABASE_URL", &db.url)
        .env_remove("PINPANEL_KEY_FILE")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match key {
        Some(k) => cmd.env("PINPANEL_KEY", k),
        None => cmd.env_remove("PINPANEL_KEY"),
    };
    let mut child = cmd.spawn().expect("run pinpanel");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

async fn count(db: &TestDb, table: &str) -> i64 {
    let pool = crate::helpers::connect(&db.url).await;
    let n = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

async fn every_command_works_and_bad_input_writes_nothing(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let run = |args: &[&str], stdin: &str| pinpanel(&db, Some(KEY), args, stdin);
    let r = run(&["migrate"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(
        &[
            "account",
            "create",
            "--name",
            "Acme Hosting",
            "--number",
            "1234567",
        ],
        "",
    );
    assert_eq!((r.code, r.last_line()), (0, "1234567"), "{}", r.stderr);
    let r = run(
        &[
            "account",
            "create",
            "--name",
            "Random Number Co",
            "--unlock-policy",
            "admins",
        ],
        "",
    );
    assert_eq!(r.code, 0);
    assert!(r.last_line().len() == 7 && r.last_line().bytes().all(|b| b.is_ascii_digit()));
    let r = run(
        &[
            "member",
            "create",
            "--account",
            "1234567",
            "--username",
            "alice",
            "--name",
            "Alice Example",
            "--email",
            "alice@example.com",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "a long password\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let alice_id: i64 = r
        .last_line()
        .parse()
        .expect("the member id is the last line");
    let r = run(
        &[
            "member",
            "create",
            "--account",
            "1234567",
            "--username",
            "carl",
            "--name",
            "Carl Contact",
            "--kind",
            "contact",
            "--password-stdin",
        ],
        "another password\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(
        &[
            "member",
            "create",
            "--account",
            "1234567",
            "--username",
            "newbie",
            "--name",
            "New Bie",
            "--no-pin",
            "--password-stdin",
        ],
        "another password\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(
        &[
            "agent",
            "create",
            "--username",
            "sam",
            "--name",
            "Sam Agent",
            "--password-stdin",
        ],
        "agent password\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.last_line().parse::<i64>().is_ok());
    let r = run(&["member", "list", "--account", "1234567"], "");
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("alice") && r.stdout.contains("admin") && r.stdout.contains("ACTIVE")
    );
    assert!(r.stdout.contains("carl") && r.stdout.contains("contact"));
    assert!(r.stdout.contains("newbie") && r.stdout.contains("INACTIVE"));
    let users = count(&db, "users").await;
    let audit = count(&db, "audit_log").await;
    // Bad input: one line on stderr, non-zero, nothing written.
    for (args, stdin, says) in [
        (
            vec![
                "member",
                "create",
                "--account",
                "7654321",
                "--username",
                "bob",
                "--name",
                "Bob",
                "--password-stdin",
            ],
            "pw is long enough\n",
            "no account numbered 7654321",
        ),
        (
            vec![
                "member",
                "create",
                "--account",
                "1234567",
                "--username",
                "alice",
                "--name",
                "Alice Two",
                "--password-stdin",
            ],
            "pw is long enough\n",
            "username 'alice' is taken",
        ),
        (
            vec![
                "member",
                "create",
                "--account",
                "1234567",
                "--username",
                "bob",
                "--name",
                "Bob",
                "--password-stdin",
            ],
            "\n",
            "password read from standard input is empty",
        ),
        (
            vec![
                "member",
                "create",
                "--account",
                "1234567",
                "--username",
                "bob",
                "--name",
                "Bob",
                "--password-stdin",
            ],
            "short\n",
            "at least 8 characters",
        ),
        (
            vec![
                "member",
                "create",
                "--account",
                "1234567",
                "--username",
                "bad name",
                "--name",
                "Bob",
                "--password-stdin",
            ],
            "pw is long enough\n",
            "username may contain only",
        ),
        (
            vec![
                "member",
                "create",
                "--account",
                "1234567",
                "--username",
                "bob",
                "--name",
                "Bob",
                "--role",
                "agent",
                "--password-stdin",
            ],
            "pw is long enough\n",
            "not a member role",
        ),
        (
            vec![
                "member",
                "create",
                "--account",
                "1234567",
                "--username",
                "bob",
                "--name",
                "Bob",
                "--bogus-flag",
                "--password-stdin",
            ],
            "",
            "--bogus-flag",
        ),
        (
            vec![
                "member",
                "create",
                "--account",
                "1234567",
                "--username",
                "bob",
                "--name",
                "Bob",
            ],
            "",
            "--password-stdin",
        ),
        (
            vec![
                "agent",
                "create",
                "--username",
                "sam",
                "--name",
                "Sam Again",
                "--password-stdin",
            ],
            "pw is long enough\n",
            "username 'sam' is taken",
        ),
        (
            vec!["account", "create", "--name", "Dup", "--number", "1234567"],
            "",
            "already exists",
        ),
        (
            vec!["account", "create", "--name", "Bad", "--number", "12ab"],
            "",
            "1 to 12 digits",
        ),
        (
            vec!["member", "list", "--account", "999"],
            "",
            "no account numbered 999",
        ),
        (
            vec!["member", "disable", "--username", "ghost"],
            "",
            "no user 'ghost'",
        ),
    ] {
        let r = run(&args, stdin);
        assert_ne!(r.code, 0, "{args:?} should fail");
        assert_eq!(
            r.stderr.trim().lines().count(),
            1,
            "{args:?}: one line on stderr, got {:?}",
            r.stderr
        );
        assert!(r.stderr.contains(says), "{args:?}: {:?}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?}");
    }
    assert_eq!(count(&db, "users").await, users, "nothing written");
    assert_eq!(count(&db, "accounts").await, 2);
    assert_eq!(count(&db, "audit_log").await, audit);
    // set-password and disable.
    let r = run(
        &[
            "member",
            "set-password",
            "--username",
            "alice",
            "--password-stdin",
        ],
        "a newer password\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pool = crate::helpers::connect(&db.url).await;
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(alice_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));
    let r = run(&["member", "disable", "--username", "carl"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let disabled: i64 = sqlx::query_scalar("SELECT disabled FROM users WHERE username = 'carl'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(disabled, 1);
    // The list never shows a PIN.
    let cipher = pinpanel::crypto::PinCipher::new(&pinpanel::crypto::PinKey::parse(KEY).unwrap());
    let blob: Vec<u8> =
        sqlx::query_scalar("SELECT ciphertext FROM support_pins WHERE user_id = $1")
            .bind(alice_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    let pin = cipher.decrypt_pin(alice_id, &blob).unwrap();
    let r = run(&["member", "list", "--account", "1234567"], "");
    assert!(r.stdout.contains("disabled"));
    assert!(!r.stdout.contains(pin.expose()));
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_commands_on_sqlite() {
    every_command_works_and_bad_input_writes_nothing(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_commands_on_postgres() {
    every_command_works_and_bad_input_writes_nothing(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_file_is_created_once_and_a_lost_or_wrong_key_is_a_clear_error() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let dir = std::path::Path::new(db.url.trim_start_matches("sqlite:"))
        .parent()
        .unwrap()
        .to_owned();
    let key_file = dir.join("pinpanel.key");
    let r = pinpanel(
        &db,
        None,
        &["account", "create", "--name", "Acme", "--number", "1"],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key_file)
        .expect("key file created beside the database")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let r = pinpanel(
        &db,
        None,
        &[
            "member",
            "create",
            "--account",
            "1",
            "--username",
            "a",
            "--name",
            "A",
            "--password-stdin",
        ],
        "long enough pw\n",
    );
    assert_eq!(r.code, 0, "the same key file is used again: {}", r.stderr);
    // A wrong key.
    let r = pinpanel(&db, Some(KEY), &["member", "list", "--account", "1"], "");
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("does not match the key this database was set up with"),
        "{}",
        r.stderr
    );
    // A malformed key.
    let r = pinpanel(
        &db,
        Some("not-a-key"),
        &["member", "list", "--account", "1"],
        "",
    );
    assert!(
        r.stderr.contains("PINPANEL_KEY is not a valid key"),
        "{}",
        r.stderr
    );
    // A lost key file is not silently replaced.
    std::fs::remove_file(&key_file).unwrap();
    let r = pinpanel(&db, None, &["member", "list", "--account", "1"], "");
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("is missing"), "{}", r.stderr);
    assert!(!key_file.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_needs_an_explicit_key() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let r = pinpanel(&db, None, &["account", "create", "--name", "Acme"], "");
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("with PostgreSQL set PINPANEL_KEY"),
        "{}",
        r.stderr
    );
}
