//! pinpanel's integration tests: one binary, so it links once, one file a feature. Each test
//! starts the real server on port 0 with a fresh database; `dual!` (the one way to do it) runs a
//! case on SQLite and, when `PINPANEL_TEST_POSTGRES_URL` is set, on PostgreSQL too (a run
//! without it says at its end how many PostgreSQL halves it skipped). What the tests stand on
//! is in `helpers/`, one concern a file. `architecture` keeps the one-way layers of STYLE.md.
//! The browser tests need Debian's chromium and chromedriver and skip without them (fail with
//! `PINPANEL_REQUIRE_BROWSER=1`).

mod helpers;

mod accounts;
mod activity;
mod alarm;
mod api;
mod api_fidelity;
mod architecture;
mod assets;
mod browser;
mod cli;
mod email_change;
mod history;
mod import;
mod key_rotation;
mod lock;
mod login;
mod mail;
mod one_time_links;
mod operating;
mod outage;
mod overview;
mod requests;
mod scim;
mod security;
mod shipping;
mod sso;
mod support_pin;
mod throttling;
mod two_step;
mod users;
