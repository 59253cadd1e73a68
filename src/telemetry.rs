//! Logging: `tracing` to stderr, filtered by `RUST_LOG`. Secrets never reach it: handlers log
//! ids and outcomes, request spans carry the path without its query, and secret-bearing types
//! (`SupportPin`, `SecretString`, `PinKey`, `User`) print masked.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; `default` applies when `RUST_LOG` is unset.
pub fn init(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .try_init();
}
