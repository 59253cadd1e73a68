//! The command line, run as the real binary against SQLite and PostgreSQL.

use crate::dual;
use crate::helpers::process::{pinpanel, words};
use crate::helpers::{Backend, TestDb};

const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn command_lines_split_like_a_shell() {
    assert_eq!(
        words("member create --name 'Ann Lee'  --x ''"),
        ["member", "create", "--name", "Ann Lee", "--x", ""]
    );
}

async fn every_command_works_and_bad_input_writes_nothing(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let run = |line: &str, stdin: &str| pinpanel(&db, Some(KEY), line, stdin);
    let ok = |line: &str, stdin: &str| {
        let r = run(line, stdin);
        assert_eq!(r.code, 0, "{line}: {}", r.stderr);
        r
    };
    ok("migrate", "");
    let r = ok("account create --name 'Acme Hosting' --number 1234567", "");
    assert_eq!(r.last_line(), "1234567");
    let r = ok(
        "account create --name 'Random Number Co' --unlock-policy admins",
        "",
    );
    assert!(r.last_line().len() == 7 && r.last_line().bytes().all(|b| b.is_ascii_digit()));
    let member = "member create --account 1234567";
    let r = ok(
        &format!("{member} --username alice --name 'Alice Example' --email alice@example.com --role admin --password-stdin"),
        "a long password\n",
    );
    let alice_id: i64 = r
        .last_line()
        .parse()
        .expect("the member id is the last line");
    ok(
        &format!("{member} --username carl --name 'Carl Contact' --kind contact --password-stdin"),
        "another password\n",
    );
    ok(
        &format!("{member} --username newbie --name 'New Bie' --no-pin --password-stdin"),
        "another password\n",
    );
    let r = ok(
        "agent create --username sam --name 'Sam Agent' --password-stdin",
        "agent password\n",
    );
    assert!(r.last_line().parse::<i64>().is_ok());
    let r = ok("member list --account 1234567", "");
    assert!(
        r.stdout.contains("alice") && r.stdout.contains("admin") && r.stdout.contains("ACTIVE")
    );
    assert!(r.stdout.contains("carl") && r.stdout.contains("contact"));
    assert!(r.stdout.contains("newbie") && r.stdout.contains("INACTIVE"));
    let users = db.count("SELECT COUNT(*) FROM users").await;
    let audit = db.count("SELECT COUNT(*) FROM audit_log").await;
    // Bad input: one line on stderr, non-zero, nothing written.
    let bob = format!("{member} --username bob --name Bob");
    let long_enough = "pw is long enough\n";
    for (line, stdin, says) in [
        (
            "member create --account 7654321 --username bob --name Bob --password-stdin".to_owned(),
            long_enough,
            "no account numbered 7654321",
        ),
        (
            format!("{member} --username alice --name 'Alice Two' --password-stdin"),
            long_enough,
            "username 'alice' is taken",
        ),
        (
            format!("{bob} --password-stdin"),
            "\n",
            "password read from standard input is empty",
        ),
        (
            format!("{bob} --password-stdin"),
            "short\n",
            "at least 12 characters",
        ),
        (
            format!("{member} --username 'bad name' --name Bob --password-stdin"),
            long_enough,
            "username may contain only",
        ),
        (
            format!("{bob} --role agent --password-stdin"),
            long_enough,
            "not a member role",
        ),
        (
            format!("{bob} --bogus-flag --password-stdin"),
            "",
            "--bogus-flag",
        ),
        (bob.clone(), "", "--password-stdin"),
        (
            "agent create --username sam --name 'Sam Again' --password-stdin".to_owned(),
            long_enough,
            "username 'sam' is taken",
        ),
        (
            "account create --name Dup --number 1234567".to_owned(),
            "",
            "already exists",
        ),
        (
            "account create --name Bad --number 12ab".to_owned(),
            "",
            "1 to 12 digits",
        ),
        (
            "member list --account 999".to_owned(),
            "",
            "no account numbered 999",
        ),
        (
            "member disable --username ghost".to_owned(),
            "",
            "no user 'ghost'",
        ),
    ] {
        let r = run(&line, stdin);
        assert_ne!(r.code, 0, "{line} should fail");
        assert_eq!(
            r.stderr.trim().lines().count(),
            1,
            "{line}: one line on stderr, got {:?}",
            r.stderr
        );
        assert!(r.stderr.contains(says), "{line}: {:?}", r.stderr);
        assert!(r.stdout.is_empty(), "{line}");
    }
    assert_eq!(
        db.count("SELECT COUNT(*) FROM users").await,
        users,
        "nothing written"
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM accounts").await, 2);
    assert_eq!(db.count("SELECT COUNT(*) FROM audit_log").await, audit);
    // set-password and disable.
    ok(
        "member set-password --username alice --password-stdin",
        "a newer password\n",
    );
    let pool = crate::helpers::connect(&db.url).await;
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(alice_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));
    ok("member disable --username carl", "");
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
    let r = run("member list --account 1234567", "");
    assert!(r.stdout.contains("disabled"));
    assert!(!r.stdout.contains(pin.expose()));
    pool.close().await;
}

dual!(backend: every_command_works_and_bad_input_writes_nothing);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_file_is_created_once_and_a_lost_or_wrong_key_is_a_clear_error() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let dir = std::path::Path::new(db.url.trim_start_matches("sqlite:"))
        .parent()
        .unwrap()
        .to_owned();
    let key_file = dir.join("pinpanel.key");
    let r = pinpanel(&db, None, "account create --name Acme --number 1", "");
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
        "member create --account 1 --username a --name A --password-stdin",
        "long enough pw\n",
    );
    assert_eq!(r.code, 0, "the same key file is used again: {}", r.stderr);
    let list = "member list --account 1";
    // A wrong key.
    let r = pinpanel(&db, Some(KEY), list, "");
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("does not match the key this database was set up with"),
        "{}",
        r.stderr
    );
    // A malformed key.
    let r = pinpanel(&db, Some("not-a-key"), list, "");
    assert!(
        r.stderr.contains("PINPANEL_KEY is not a valid key"),
        "{}",
        r.stderr
    );
    // A key file other users can read is refused, with the remedy.
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = pinpanel(&db, None, list, "");
    assert_ne!(r.code, 0, "a world-readable key file is refused");
    assert!(r.stderr.contains("chmod 600"), "{}", r.stderr);
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(pinpanel(&db, None, list, "").code, 0);
    // A lost key file is not silently replaced.
    std::fs::remove_file(&key_file).unwrap();
    let r = pinpanel(&db, None, list, "");
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("is missing"), "{}", r.stderr);
    assert!(!key_file.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_needs_an_explicit_key() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let r = pinpanel(&db, None, "account create --name Acme", "");
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("with PostgreSQL set PINPANEL_KEY"),
        "{}",
        r.stderr
    );
}

/// `--key` warns in `--help` that it shows in the process list.
#[test]
fn the_key_flag_warns_about_the_process_list() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pinpanel"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("process list"), "{text}");
    assert!(text.contains("PINPANEL_KEY_FILE"), "{text}");
}
