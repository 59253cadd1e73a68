//! The real `pinpanel serve` binary as a child process: for several instances on one database,
//! `kill -9`, and reading what the server logs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

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
        crate::helpers::api_token(&format!("http://{}", self.addr), username).await
    }
}
