//! pinpanel: a self-hosted control panel for Support PINs.
//!
//! The arrows point one way (STYLE.md, "Our layout"; `tests/integration/architecture.rs` keeps
//! them so): `web` and `api` translate HTTP and call `http`, `service` and `domain`; `http` is
//! what the two faces share; `service` holds every rule about who may do what and calls `store`
//! and `domain`; `store` reads rows into `domain` types; `domain` and `crypto` import nothing of
//! the others. `cli` (with `demo` and `seed`) calls use cases like a face, never the store or a
//! face; `startup`, `config` and `telemetry` assemble the whole.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod api;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod domain;
pub mod http;
pub mod scim;
pub mod seed;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;
