//! What the tests stand on, one concern a file: the backends a case runs on and its database,
//! the app in this process, the people in it, the clients of each face (the panel, the JSON
//! API, SCIM), mail through a real SMTP server, the binary as a child process, a real browser,
//! an authenticator app, and waiting without fixed sleeps.
//!
//! The names most tests use are re-exported here (`crate::helpers::{spawn_app, TestApp, …}`);
//! the rest are reached through their module (`crate::helpers::mail::MailServer`).

pub mod api;
pub mod app;
pub mod backends;
pub mod browser;
pub mod client;
pub mod db;
pub mod mail;
pub mod people;
pub mod process;
pub mod scim;
pub mod tools;
pub mod two_step;
pub mod wait;

pub use api::Api;
pub use app::{
    behind_a_proxy, free_port, key_source, spawn_app, spawn_app_with, spawn_instance_with_key,
    spawn_public_app, spawn_second_instance, start_on, start_with_options, test_settings, TestApp,
};
pub use backends::{postgres_base_url, Backend};
pub use client::{
    between, csrf_in, form_login, form_login_with, linked_assets, path_of, session_cookie_of,
    unescaped, Client,
};
pub use db::{connect, connect_one, count, migration_statement, TestDb};
pub use people::{fresh, PASSWORD};
