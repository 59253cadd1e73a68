//! The tools some tests need besides Rust (PostgreSQL, Chromium, an SMTP server, an OpenID
//! provider, the public SCIM tools): without one its tests pass without running, unless
//! `PINPANEL_REQUIRE_<NAME>=1` (as `.ci/run` sets) makes that a failure.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// `present`, or, when the tool is missing, a failure if `require` is `1` and otherwise `false`
/// after saying once (in the first skipped test's output) what is missing and how to get it.
pub fn tool_here(present: bool, require: &str, missing: &str) -> bool {
    static SAID: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    if present {
        return true;
    }
    if std::env::var(require).as_deref() == Ok("1") {
        panic!("{require}=1 but {missing}");
    }
    if SAID.lock().expect("lock").insert(require.to_owned()) {
        eprintln!("skipping what needs it: {missing}");
    }
    false
}

/// Does `program args…` run and succeed (quietly)? How a test asks whether a tool is installed.
pub fn runs(program: impl AsRef<OsStr>, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
