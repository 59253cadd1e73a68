//! The real `pinpanel` binary as a child process: `pinpanel serve` for several instances on one
//! database, `kill -9`, and reading what the server logs; any other command run to its end.

use std::ffi::OsStr;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::db::TestDb;

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// What the server printed before it listened.
    pub banner: Vec<String>,
    pub log: PathBuf,
    _logdir: tempfile::TempDir,
}

impl Server {
    /// Starts `pinpanel serve` on a free port and waits until it listens.
    pub async fn start(database_url: &str, key_hex: &str, rust_log: &str) -> Server {
        Server::start_with(database_url, key_hex, rust_log, &[]).await
    }

    /// [`Server::start`] with more environment variables.
    pub async fn start_with(
        database_url: &str,
        key_hex: &str,
        rust_log: &str,
        env: &[(&str, &str)],
    ) -> Server {
        let binary = std::path::Path::new(env!("CARGO_BIN_EXE_pinpanel"));
        Server::start_from(binary, None, database_url, key_hex, rust_log, env).await
    }

    /// [`Server::start_with`] running `binary` (a copy, say) in the directory `dir`.
    pub async fn start_from(
        binary: &std::path::Path,
        dir: Option<&std::path::Path>,
        database_url: &str,
        key_hex: &str,
        rust_log: &str,
        env: &[(&str, &str)],
    ) -> Server {
        let logdir = tempfile::tempdir().unwrap();
        let log = logdir.path().join("server.log");
        let mut command = Command::new(binary);
        if let Some(dir) = dir {
            command.current_dir(dir).env_remove("PINPANEL_STATIC_DIR");
        }
        let mut child = command
            .args(["serve", "--addr", "127.0.0.1:0"])
            .env("DATABASE_URL", database_url)
            .env("PINPANEL_KEY", key_hex)
            .env("PINPANEL_COOKIE_SECURE", "false")
            .env("RUST_LOG", rust_log)
            .env("NO_COLOR", "1")
            .env("PINPANEL_REQUIRE_TWO_STEP", "none")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("start pinpanel serve");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut banner = Vec::new();
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    return rest
                        .split_whitespace()
                        .next()
                        .unwrap()
                        .parse::<SocketAddr>()
                        .unwrap();
                }
                banner.push(line);
            }
            panic!(
                "pinpanel serve exited before listening: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        })
        .await
        .expect("the server starts within a minute");
        // Keep draining stdout so the server never writes into a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Server {
            child,
            addr,
            banner,
            log,
            _logdir: logdir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `kill -9`: no shutdown, no flush, no goodbye.
    pub async fn kill9(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    /// SIGTERM, then wait for the graceful exit.
    pub async fn stop(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("running") as i32;
        // SAFETY-free: the `kill` command sends the signal.
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("exits")
            .unwrap()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// An API token for `username` (password [`PASSWORD`]).
    pub async fn token(&self, username: &str) -> String {
        super::api::api_token(&format!("http://{}", self.addr), username).await
    }
}

/// What a command did: its exit code and what it wrote.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn last_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or_default()
    }

    /// (code, stdout, stderr), for a test that names them its own way.
    pub fn parts(self) -> (i32, String, String) {
        (self.code, self.stdout, self.stderr)
    }
}

/// Splits a command line written as in a shell: words separated by spaces, `'…'` for a word
/// with spaces in it.
pub fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    out.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(word);
    }
    out
}

/// Runs `pinpanel <line>` on the database with `stdin` as its standard input.
pub fn pinpanel(db: &TestDb, key: Option<&str>, line: &str, stdin: &str) -> Run {
    pinpanel_args(&db.url, key, &words(line), stdin)
}

/// Runs `pinpanel <args>` on the database at `url` with `stdin` as its standard input.
pub fn pinpanel_args(url: &str, key: Option<&str>, args: &[impl AsRef<OsStr>], stdin: &str) -> Run {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pinpanel"));
    cmd.args(args)
        .env("DATABASE_URL", url)
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
